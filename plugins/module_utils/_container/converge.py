# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converging one container through the libpod API: read, compare, then create, recreate,
start, stop or remove. The module only turns options into a call of `converge`.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import threading

from ansible_collections.machinist.podman.plugins.module_utils._api.client import APIError
from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._container import spec as container_spec

RUNNING = ('running',)


class ContainerError(MachinistError):
    """A container that could not be converged; `changed` says whether it already was in part."""


class Turn:
    """A container's place in a list whose containers are worked on two at a time (containers_task). Creations are
    made in the list's order, and every other change in the list's order after the changes of the containers before,
    except the start of a new container, which may overlap the start of the one before it. `wait_create` blocks
    until the container before this one is created (or needs no creating), `wait` until it and every container
    before it have made their last change; `created` and `done` say the same of this one to the next (done waits for
    the one before, so that done means all done up to here)."""

    def __init__(self, before=None):
        self._created = threading.Event()
        self._done = threading.Event()
        self._before = before

    def wait_create(self):
        if self._before is not None:
            self._before._created.wait()

    def wait(self):
        if self._before is not None:
            self._before._done.wait()

    def created(self):
        self._created.set()

    def done(self):
        self._created.set()
        self.wait()
        self._done.set()


def converge_container(api, desired, name, state, recreate=False, pull='missing', stop_timeout=10, check_mode=False,
                       turn=None):
    """Returns {changed, actions, before, after, container, differences}.

    With a `turn` (a Turn, its container's place in a list), a container that does not exist yet and whose image is
    only pulled when missing is created in its turn to create and then started at once; everything else that changes
    the machine (a pull, a start of an existing container, stop, remove, rename) waits for the containers before it
    to be done. This one is done once its last change is made: the read of the result overlaps the next one's
    changes."""
    actions = []
    changed = [False]
    raw = api.container_inspect(name)
    current = container_spec.current_from_inspect(raw) if raw else None
    ahead = turn is not None and not current and state != 'absent' and pull == 'missing' and not check_mode
    if turn is not None and not ahead:
        turn.wait()

    def do(action, fn, *args):
        if turn is not None and not (ahead and action in ('create', 'start')):
            turn.wait()
        actions.append(action)
        if not check_mode:
            try:
                fn(*args)
            except Exception as exc:
                raise ContainerError('%s (done before it: %s)' % (exc, ', '.join(actions[:-1]) or 'nothing'), changed=changed[0])
        changed[0] = True

    if state == 'absent':
        if current:
            do('remove', api.container_remove, name, stop_timeout)
        if turn is not None:
            turn.done()
        before, _after = container_spec.as_diff(current, None)
        return {'changed': changed[0], 'actions': actions, 'before': before, 'after': {}, 'container': None,
                'differences': []}

    if not current and pull == 'missing' and not check_mode:
        # Nothing to compare the image with: create at once, and pull only if podman lacks the image.
        _create_pulling(api, desired, do, turn)
        diffs = []
    else:
        image_id = _image_id(api, desired['image'], pull, check_mode, do)
        diffs = container_spec.differences(desired, current, image_id) if current else []
    if not current:
        if 'create' not in actions:
            do('create', api.container_create, container_spec.create_body(desired))
        current_running = False
    elif diffs or recreate:
        # The new container is made under a temporary name first, so a spec podman refuses leaves
        # the old one as it was; only then is the old one removed and the new one renamed.
        temp = '%s-machinist-new' % name
        if not check_mode and api.container_inspect(temp):
            api.container_remove(temp, stop_timeout)  # left by an interrupted earlier run
        try:
            do('create', api.container_create, container_spec.create_body(dict(desired, name=temp)))
        except ContainerError as exc:
            raise ContainerError('%s; container %s is as it was' % (exc, name))
        do('remove', api.container_remove, name, stop_timeout)
        do('rename', api.container_rename, temp, name)
        current_running = False
    else:
        current_running = current['state'] in RUNNING
    if state == 'started' and not current_running:
        do('start', api.container_start, name)
    elif state == 'stopped' and current_running:
        do('stop', api.container_stop, name, stop_timeout)

    if turn is not None:
        turn.done()
    after_raw = None if check_mode else api.container_inspect(name)
    after_view = container_spec.current_from_inspect(after_raw) if after_raw else None
    before, after = container_spec.as_diff(current, desired)
    after['state'] = after_view['state'] if after_view else _predicted_state(state, current, actions)
    return {'changed': changed[0], 'actions': actions, 'before': before, 'after': after, 'container': after_view,
            'differences': [{'field': f, 'before': b, 'after': a} for f, b, a in diffs]}


def _create_pulling(api, desired, do, turn=None):
    if turn is not None:
        turn.wait_create()
    made = _create_unless_image_missing(api, desired)
    if not made and turn is not None:
        # Created ahead of its turn, before the container ahead of it was done: it may have pulled the image since.
        # Try again in turn, as a list converged one container after another would have.
        turn.wait()
        made = _create_unless_image_missing(api, desired)
    if not made:
        do('pull %s' % desired['image'], api.image_pull, desired['image'], 'missing')
        do('create', api.container_create, container_spec.create_body(desired))
        return
    if turn is not None:
        turn.created()
    do('create', lambda: None)  # made already; do() records it in turn


def _create_unless_image_missing(api, desired):
    """True once created; False where podman lacks the image (Podman 5 answers 404, 4.3 answers 500 "image not
    known"); any other refusal is the container's failure."""
    try:
        api.container_create(container_spec.create_body(desired))
    except APIError as exc:
        said = (exc.api_message or '').lower()
        if 'image not known' in said or 'no such image' in said or (exc.status == 404 and 'image' in said):
            return False
        raise ContainerError('%s (done before it: nothing)' % exc)
    return True


def _predicted_state(state, current, actions):
    if state == 'started':
        return 'running'
    if 'create' in actions:
        return 'created'
    if state == 'stopped' and 'stop' in actions:
        return 'exited'
    return current['state'] if current else 'created'


def _image_id(api, image, pull, check_mode, do):
    """The ID the image reference names in the machine, pulling it as `pull` says."""
    found = api.image_inspect(image)
    if found and pull != 'always':
        return found.get('Id')
    if pull == 'never':
        raise ContainerError('image=%s is not in the machine and pull is never: load or pull it first (for example '
                             'with machinist.podman.container_image), or set pull to missing' % image)
    if found and check_mode:
        return found.get('Id')  # pull: always cannot know without pulling whether the registry has a newer one
    if not found:
        do('pull %s' % image, api.image_pull, image, 'missing')
    else:
        # A pull that brings nothing new is not a change.
        api.image_pull(image, 'always')
        fresh = api.image_inspect(image)
        if fresh and fresh.get('Id') != found.get('Id'):
            do('pull %s' % image, lambda: None)
        found = fresh
    if check_mode and not found:
        return None
    found = found or api.image_inspect(image)
    return found.get('Id') if found else None
