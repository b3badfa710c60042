"""A crowd worker's work: sent to a pool batch, stopped at the images the link asked for, and a completion code
an admin can check; the dataset's crowd setup and its refusals."""

import pytest

from crowd.models import Participation
from crowd.services.onboarding import invite_accept, invite_token
from crowd.services.studies import (
    completion_code,
    completion_code_check,
    completion_redirect_url,
    crowd_setup_save,
    instruction_example_add,
    participation_begin_work,
    participation_complete,
)
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Proposal
from reviewer.services.lease import image_next_for_review
from reviewer.services.review import BoxFate, review_submit
from tests.factories import AdminFactory, ImageFactory, InviteFactory, crowd_study

pytestmark = pytest.mark.django_db


def join(dataset, pid="p1", **invite):
    joined = invite_accept(token=invite_token(InviteFactory(dataset=dataset, **invite)), params={"PROLIFIC_PID": pid})
    return joined.participation


def accept_next(user, batch) -> bool:
    """Review the next image the batch hands out, accepting its proposals; False when none is left."""
    found = image_next_for_review(reviewer=user, batch_id=batch.pk)
    if found is None:
        return False
    image, lease = found
    review_submit(
        reviewer=user,
        image_id=image.pk,
        batch_id=batch.pk,
        lease_token=lease.token,
        revision=image.revision,
        fates=[BoxFate(fate="accepted", proposal_id=p.pk) for p in Proposal.objects.filter(image=image)],
        seconds_spent=4.0,
    )
    return True


def test_work_waits_for_the_qualification_round():
    dataset, _, _ = crowd_study(qualification_size=2)
    with pytest.raises(Forbidden, match="qualification"):
        participation_begin_work(participation=join(dataset))


def test_a_whole_batch_earns_a_code_an_admin_can_check():
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=3)
    participation = join(dataset)
    assignment = participation_begin_work(participation=participation)
    assert assignment.batch == batch
    assert assignment.status == Assignment.Status.ACTIVE
    user = participation.reviewer
    assert accept_next(user, batch)
    with pytest.raises(Conflict, match="still need you"):
        participation_complete(participation=participation)
    while accept_next(user, batch):
        pass
    done = participation_complete(participation=participation)
    assert done.completion_code.startswith(f"V{participation.pk}-")
    assert done.completed_at
    assert participation_complete(participation=participation).completion_code == done.completion_code
    assert completion_code_check(done.completion_code.lower()) == done
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.DONE
    with pytest.raises(Conflict):
        participation_begin_work(participation=Participation.objects.get(pk=participation.pk))


def test_a_tampered_or_unissued_code_is_not_genuine():
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=1)
    participation = join(dataset)
    participation_begin_work(participation=participation)
    accept_next(participation.reviewer, batch)
    code = participation_complete(participation=participation).completion_code
    number, mac = code.split("-")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    for bad in (f"{number}-{flipped}", f"V{participation.pk + 1}-{mac}", "", "V1-XYZ", code + "0"):
        assert completion_code_check(bad) is None
    # A code for a participation not finished yet is not genuine either, even with the right HMAC.
    other = join(dataset, "p2", max_uses=5)
    assert completion_code_check(completion_code(other)) is None


def test_the_images_the_link_asked_for_stop_the_batch_and_complete_the_work():
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=3)
    participation = join(dataset, images_per_worker=2)
    participation_begin_work(participation=participation)
    user = participation.reviewer
    assert accept_next(user, batch)
    assert accept_next(user, batch)
    assert image_next_for_review(reviewer=user, batch_id=batch.pk) is None  # one image left, but not for them
    assert participation_complete(participation=participation).completion_code


def test_no_work_left_is_not_found():
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=1)
    first = join(dataset)
    participation_begin_work(participation=first)
    accept_next(first.reviewer, batch)
    second = invite_accept(token=invite_token(InviteFactory(dataset=dataset)), params={"PROLIFIC_PID": "p2"})
    with pytest.raises(NotFound, match="no work left"):
        participation_begin_work(participation=second.participation)


def test_the_completion_url_gets_the_code_and_the_worker_id():
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=1)
    dataset.crowd_setup.completion_url = (
        "https://app.prolific.com/submissions/complete?cc=C0DE&veil={code}&w={external_id}"
    )
    dataset.crowd_setup.save()
    participation = join(dataset)
    participation_begin_work(participation=participation)
    accept_next(participation.reviewer, batch)
    done = participation_complete(participation=participation)
    assert completion_redirect_url(done) == (
        f"https://app.prolific.com/submissions/complete?cc=C0DE&veil={done.completion_code}&w=p1"
    )


def test_setup_refuses_a_round_longer_than_the_gold_images_and_non_admins():
    dataset, _, _ = crowd_study(gold=2, qualification_size=0)
    fields = dict(instructions="Box faces.", max_mistakes=2, max_tries=3, miss_rate_limit=0.2)
    with pytest.raises(ServiceError, match="has 2"):
        crowd_setup_save(dataset=dataset, actor=AdminFactory(), qualification_size=3, **fields)
    with pytest.raises(Forbidden):
        crowd_setup_save(dataset=dataset, actor=join(dataset).reviewer, qualification_size=1, **fields)
    with pytest.raises(ServiceError, match="https"):
        crowd_setup_save(
            dataset=dataset, actor=AdminFactory(), qualification_size=1, completion_url="javascript:alert(1)", **fields
        )
    setup = crowd_setup_save(dataset=dataset, actor=AdminFactory(), qualification_size=2, **fields)
    assert (setup.qualification_size, setup.instructions) == (2, "Box faces.")


def test_an_example_cannot_give_the_round_away_or_come_from_another_dataset():
    dataset, _, golds = crowd_study(gold=2, qualification_size=2)
    admin = AdminFactory()
    with pytest.raises(Conflict, match="give the round away"):
        instruction_example_add(dataset=dataset, actor=admin, image=golds[0], caption="A face.", boxes=[])
    with pytest.raises(NotFound):
        instruction_example_add(dataset=dataset, actor=admin, image=ImageFactory(), caption="x", boxes=[])
    plain = ImageFactory(dataset=dataset)
    with pytest.raises(ServiceError, match=plain.relative_path):  # wholly outside the 64 x 48 image
        instruction_example_add(dataset=dataset, actor=admin, image=plain, caption="x", boxes=[Box(100, 100, 120, 120)])
    example = instruction_example_add(
        dataset=dataset, actor=admin, image=plain, caption="Tiny", boxes=[Box(1, 1, 9, 9)]
    )
    assert [b.box for b in example.boxes.all()] == [Box(1, 1, 9, 9)]


def test_a_setup_without_a_round_lets_everyone_take_the_pool():
    dataset, batch, _ = crowd_study(qualification_size=0)
    participation = join(dataset)
    assert participation_begin_work(participation=participation).batch == batch


def test_a_gold_image_answered_in_the_round_is_not_handed_out_again_as_a_check_to_that_worker():
    from crowd.services.qualification import qualification_answer, qualification_start
    from tests.factories import FACE, BatchItemFactory, UserFactory

    dataset, batch, golds = crowd_study(gold=2, qualification_size=1, max_mistakes=0, pool_images=2)
    for n, gold in enumerate(golds):
        BatchItemFactory(batch=batch, image=gold, position=10 + n)  # mixed into the pool batch as checks
    participation = join(dataset)
    worker = participation.reviewer
    attempt = qualification_start(reviewer=worker, dataset=dataset)
    [seen] = attempt.image_ids
    qualification_answer(reviewer=worker, attempt_id=attempt.pk, image_id=seen, boxes=[Box(*FACE)])
    assignment = participation_begin_work(participation=participation)
    assert assignment.batch == batch
    handed = []
    while True:
        found = image_next_for_review(reviewer=worker, batch_id=batch.pk)
        if found is None:
            break
        handed.append(found[0].pk)
        accept_next_image(worker, batch, *found)
    other_gold = next(g.pk for g in golds if g.pk != seen)
    assert seen not in handed
    assert other_gold in handed
    assert len(handed) == 3
    assert participation_complete(participation=participation).completed_at is not None
    # Another reviewer of the batch, who never saw the round, gets both checks.
    other = UserFactory()
    Assignment.objects.create(batch=batch, reviewer=other)
    assert image_next_for_review(reviewer=other, batch_id=batch.pk)[0].pk in {g.pk for g in golds}


def accept_next_image(user, batch, image, lease):
    review_submit(
        reviewer=user,
        image_id=image.pk,
        batch_id=batch.pk,
        lease_token=lease.token,
        revision=image.revision,
        fates=[BoxFate(fate="accepted", proposal_id=p.pk) for p in Proposal.objects.filter(image=image)],
        seconds_spent=4.0,
    )
