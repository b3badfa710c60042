import pytest

from reviewer.errors import Conflict, Forbidden, ServiceError
from reviewer.models import AuditEvent, User
from reviewer.services.accounts import user_create, user_reset_password, user_set_active
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_reviewers_cannot_manage_people():
    rita = UserFactory()
    with pytest.raises(Forbidden, match="Only admins manage people"):
        user_create(username="sneaky", role="admin", actor=rita)
    with pytest.raises(Forbidden):
        user_reset_password(user=AdminFactory(), actor=rita)
    with pytest.raises(Forbidden):
        user_set_active(user=UserFactory(), is_active=False, actor=rita)
    assert not User.objects.filter(username="sneaky").exists()


def test_the_command_line_creates_without_an_actor_and_the_audit_has_no_password():
    user, password = user_create(username="cli", role="reviewer")
    assert user.check_password(password)
    event = AuditEvent.objects.get(verb="user.created")
    assert event.actor is None
    assert password not in str(event.data)


def test_deactivation_twice_is_a_conflict_and_yourself_is_refused():
    admin = AdminFactory()
    rita = UserFactory()
    user_set_active(user=rita, is_active=False, actor=admin)
    with pytest.raises(Conflict, match="is already deactivated"):
        user_set_active(user=rita, is_active=False, actor=admin)
    with pytest.raises(ServiceError, match="You cannot deactivate yourself"):
        user_set_active(user=admin, is_active=False, actor=admin)
    assert [e.verb for e in AuditEvent.objects.order_by("id")] == ["user.deactivated"]
