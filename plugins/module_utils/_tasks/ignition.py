# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ignition_config does with its options: the config assembled over its base, masked in the
result, and written to dest (atomically, mode 0600) only when its content changes.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.files import replacing
from ansible_collections.machinist.podman.plugins.module_utils._ignition import config as ignition

if TYPE_CHECKING:
    from typing import Any


OWNER = dict(type='str')
IGNITION_ARGS = dict(
    dest=dict(type='path'),
    base=dict(type='path'),
    spec_version=dict(type='str', choices=list(ignition.SPECS)),
    users=dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True), password_hash=dict(type='str', no_log=True),
        ssh_authorized_keys=dict(type='list', elements='str', no_log=False), groups=dict(type='list', elements='str'),
        uid=dict(type='int'), gecos=dict(type='str'), home_dir=dict(type='str'), shell=dict(type='str'),
        primary_group=dict(type='str'), system=dict(type='bool'), no_create_home=dict(type='bool'),
        should_exist=dict(type='bool'))),
    groups=dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True), gid=dict(type='int'), system=dict(type='bool'),
        should_exist=dict(type='bool'))),
    files=dict(type='list', elements='dict', options=dict(
        path=dict(type='str', required=True), content=dict(type='str', no_log=True), src=dict(type='path'),
        content_base64=dict(type='str', no_log=True), url=dict(type='str'), hash=dict(type='str'),
        compression=dict(type='str', choices=['gzip']), mode=dict(type='raw'), owner=OWNER, group=OWNER,
        overwrite=dict(type='bool'), append=dict(type='bool', default=False))),
    directories=dict(type='list', elements='dict', options=dict(
        path=dict(type='str', required=True), mode=dict(type='raw'), owner=OWNER, group=OWNER,
        overwrite=dict(type='bool'))),
    links=dict(type='list', elements='dict', options=dict(
        path=dict(type='str', required=True), target=dict(type='str', required=True), hard=dict(type='bool'),
        owner=OWNER, group=OWNER, overwrite=dict(type='bool'))),
    units=dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True), contents=dict(type='str'), enabled=dict(type='bool'),
        mask=dict(type='bool'), dropins=dict(type='list', elements='dict'))),
    kernel_arguments=dict(type='dict'),
    merge=dict(type='list', elements='dict'),
    replace=dict(type='dict'),
    tls_cas=dict(type='list', elements='dict'),
    proxy=dict(type='dict', options=dict(
        http_proxy=dict(type='str', no_log=True), https_proxy=dict(type='str', no_log=True),
        no_proxy=dict(type='list', elements='str'))),
)


def _base(path):
    if not path:
        return None
    try:
        with open(path) as fh:
            return json.load(fh)
    except OSError as exc:
        raise ignition.IgnitionError('base: cannot read %s: %s' % (path, exc))
    except ValueError as exc:
        raise ignition.IgnitionError('base: %s is not JSON: %s' % (path, exc))


def ignition_task(params: dict[str, Any], runner: None = None, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """Runs no program and reads only `base` and `dest`: it takes no runner."""
    p = params
    for i, f in enumerate(p['files'] or []):
        if f.get('src') and not f.get('content_base64'):
            raise ignition.IgnitionError('files[%d].src: %s was not read on the controller; call the module by its full name '
                                         '(machinist.podman.ignition_config) so its action plugin runs' % (i, f['src']))
    config, version, replaced = ignition.assemble(p, _base(p['base']))
    text = ignition.render(config)
    # Masked here, not by Ansible: no_log covers the options' hashes, not those read from the base file.
    # A no_log content is shown in no form: the data URL it becomes is masked wherever it appears too.
    result = dict(changed=False, config=ignition.masked(config), version=version, sha512=ignition.sha512(text), replaced=replaced,
                  warnings=[], no_log_values=ignition.secret_sources(p))
    if p['dest']:
        old = _read(p['dest'])
        if old != text:
            result['changed'] = True
            if diff:
                # The old file's hashes are no option's value, so Ansible would not mask them: both sides masked here.
                result['diff'] = {'before': ignition.mask_text(old or ''), 'after': ignition.mask_text(text),
                                  'before_header': p['dest'], 'after_header': p['dest']}
            if not check_mode:
                _write(p['dest'], text)
        elif (os.stat(p['dest']).st_mode & 0o777) != 0o600:
            result['changed'] = True
            if not check_mode:
                os.chmod(p['dest'], 0o600)
    return result


def _read(dest):
    try:
        with open(dest) as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _write(dest, text):
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise ignition.IgnitionError('dest: the folder %s does not exist' % folder)
    try:
        with replacing(dest, mode=0o600) as fh:
            fh.write(text)
    except OSError as exc:
        raise ignition.IgnitionError('dest: cannot write %s: %s' % (dest, exc))
