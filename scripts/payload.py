#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each module's payload carries: the AnsiballZ file Ansible would send to a target, built by
ansible-core itself, with its size and the collection's files in it.

    PYTHON scripts/payload.py            a line per module: the payload's size, and the size of our files in it
    PYTHON scripts/payload.py -v         and each of our files

PYTHON is a Python with ansible-core (the one scripts/setup.sh made). The checkout is imported through an
ansible_collections/machinist/podman link in a temporary folder, as scripts/unit.sh does.
"""

from __future__ import annotations

import base64
import glob
import io
import os
import re
import sys
import tempfile
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, 'ansible_collections', 'machinist'))
    link = os.path.join(root, 'ansible_collections', 'machinist', 'podman')
    os.symlink(REPO, link)
    os.environ['ANSIBLE_COLLECTIONS_PATH'] = root
    from ansible.executor.module_common import modify_module
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar
    init_plugin_loader()
    templar = Templar(loader=DataLoader())
    for path in sorted(glob.glob(os.path.join(link, 'plugins', 'modules', '*.py'))):
        name = os.path.basename(path)[:-3]
        built = modify_module(module_name='machinist.podman.' + name, module_path=path, module_args={}, templar=templar,
                              task_vars={'ansible_python_interpreter': '/usr/bin/python3'})
        data = built.b_module_data
        blob = max(re.findall(rb'[A-Za-z0-9+/=]{1000,}', data), key=len)
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(blob))) as z:
            ours = [i for i in z.infolist() if '/machinist/podman/' in i.filename and not i.filename.endswith('__init__.py')]
            print('%-22s payload %7d bytes; ours %6d bytes in %2d files' % (name, len(data), sum(i.file_size for i in ours),
                                                                          len(ours)))
            if '-v' in argv:
                for i in ours:
                    print('    %-60s %6d' % (i.filename.split('/machinist/podman/')[1], i.file_size))
    os.unlink(link)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
