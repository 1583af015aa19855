"""What the tests share: helpers for remote jobs, Docker, owners to kill, wheels.

``tests/`` is on ``sys.path`` (pytest puts the root ``conftest.py``'s folder there), so
test modules import these as ``support.<module>``.
"""
