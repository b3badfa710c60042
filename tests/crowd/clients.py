"""Crowd pages as a worker's browser reaches them: the invite link, joining, finishing one image."""

from crowd.models import Participation
from crowd.services.onboarding import invite_token
from tests.factories import InviteFactory, crowd_study, make_review


def join_url(invite, query="PROLIFIC_PID=p1"):
    return f"/join/{invite_token(invite)}/?{query}"


def joined_client(client, dataset, pid="p1", **invite):
    invite = InviteFactory(dataset=dataset, **invite)
    response = client.post(join_url(invite, f"PROLIFIC_PID={pid}"))
    assert response.status_code == 302
    return Participation.objects.get(reviewer__crowd_worker__external_id=pid, invite=invite)


def finish_one_image(client, query):
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=1)
    invite = InviteFactory(dataset=dataset)
    client.post(f"/join/{invite_token(invite)}/?{query}")
    participation = Participation.objects.get()
    client.post(f"/crowd/studies/{participation.pk}/work")
    image = batch.items.get().image
    make_review(image, participation.reviewer, assignment=participation.reviewer.assignments.get())
    return participation
