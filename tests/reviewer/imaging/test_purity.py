import subprocess
import sys


def test_imaging_package_imports_without_django():
    """Pure code stays pure: importing every imaging module must not pull Django in."""
    code = (
        "import pkgutil, importlib, sys, reviewer.imaging as pkg\n"
        "for m in pkgutil.walk_packages(pkg.__path__, 'reviewer.imaging.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(name for name in sys.modules if name == 'django' or name.startswith('django.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
