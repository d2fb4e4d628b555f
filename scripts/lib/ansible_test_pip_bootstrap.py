"""Stand-in for ansible-test's pip bootstrap script, for hosts that cannot reach its download site.

ansible-test creates each sanity test's virtual environment without pip and runs its cached
bootstrap script (~/.ansible/test/cache/get_pip_X_Y.py) as __main__, with pip's options and the
packages it wants (pip==X.Y) in sys.argv. This one installs the pip that Debian's python3-venv
bundles (ensurepip), then has that pip install the wanted packages from the configured index.
scripts/setup.sh puts it in the test user's cache under the name ansible-test looks for.
"""

import ensurepip
import subprocess
import sys

# Options of the original script that pip itself does not know.
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
ensurepip.bootstrap(upgrade=True)
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
