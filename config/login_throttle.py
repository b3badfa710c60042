"""Login throttling with two limits (django-axes' handler, AXES_HANDLER): per account and, much higher, per address.

A lab behind one NAT shares one address: one person's typos must not lock everyone behind it out for the
cool-off, while a guesser trying many accounts from one address is still stopped. An account pauses after
VEIL_LOGIN_FAILURE_LIMIT wrong passwords (AXES_FAILURE_LIMIT, 5) from any addresses; an address after
VEIL_LOGIN_ADDRESS_FAILURE_LIMIT (50) wrong passwords for any accounts.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum


class LoginThrottle(AxesDatabaseHandler):
    """axes compares one count with one limit, so an address's count is scaled to reach that limit exactly at
    the address's own: floor(n x account_limit / address_limit) >= account_limit if and only if n >= address_limit.
    """

    def get_failures(self, request, credentials=None) -> int:
        limit = get_failure_limit(request, credentials)
        address_limit = settings.VEIL_LOGIN_ADDRESS_FAILURE_LIMIT
        parameters = get_lockout_parameters(request, credentials)
        counts = []
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            n = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            counts.append(n * limit // address_limit if parameter == "ip_address" else n)
        return max(counts, default=0)
