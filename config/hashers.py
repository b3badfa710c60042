"""Password hashing: Argon2id with the parameters OWASP's password storage guide lists first.

Django's own Argon2 hasher asks for 100 MiB and 8 lanes per hash; 50 people logging in at once then need 5 GB
or queue behind each other. m=19 MiB, t=2, p=1 keeps the memory-hardness that makes GPU guessing expensive,
at a CPU cost per login well under PBKDF2's 1,000,000 rounds (bench/logins.py measures both).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class VeilArgon2PasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's: hashes carry their own parameters, so either hasher verifies them, and
    # a hash made with other parameters is re-made with these at the next login (must_update).
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
