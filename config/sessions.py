"""Django's database sessions, with the read every signed-in request makes compiled once (reviewer.prepared).

Same table, same rows, same expiry rule (`expire_date > now`) and the same answer for an unknown or expired key
(an empty session, the key dropped); only the queryset is not rebuilt and recompiled on each request.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.utils import timezone

from reviewer.prepared import Prepared


def _session(*, session_key: str, now):
    return db.SessionStore.get_model_class().objects.filter(session_key=session_key, expire_date__gt=now)[:1]


_current = Prepared(_session)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        found = _current.fetch(session_key=self.session_key, now=timezone.now())
        if found:
            return found[0]
        self._session_key = None
        return None
