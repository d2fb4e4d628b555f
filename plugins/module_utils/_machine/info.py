# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Gathering facts about many machines: `list` for who exists, `inspect` per provider for the rest.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._machine import commands as cmds
from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import default_provider

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineClient


def gather(client: MachineClient, patterns: Sequence[str] | None = None, provider: str | None = None,
           all_providers: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """(machines, warnings): normalised facts of the machines whose names match `patterns`."""
    warnings = []
    client.check_provider(provider)
    env = cmds.provider_env(provider)
    every = client.caps.has('list_every_provider')
    if all_providers and not every and not client.caps.has('list_all_providers'):
        warnings.append('all_providers: %s; listing the current provider\'s machines only'
                        % client.caps.missing('list_all_providers'))
    listed = client.list(env=env, all_providers=all_providers)
    if every and not all_providers:
        # Podman 6 lists every provider's machines: keep the current provider's, as earlier versions list.
        current = provider or default_provider(client.host['os'], client.caps.version.major)
        listed = [m for m in listed if (m.get('provider') or current) == current]
    if patterns:
        listed = [m for m in listed if any(fnmatch.fnmatchcase(m['name'], p) for p in patterns)]
    # inspect sees one provider at a time: ask each provider about its own machines.
    by_provider = {}
    for m in listed:
        by_provider.setdefault(m.get('provider') if (all_providers or every) else provider, []).append(m)
    machines = []
    for prov, members in sorted(by_provider.items(), key=lambda kv: kv[0] or ''):
        inspected = client.inspect([m['name'] for m in members], env=cmds.provider_env(prov) or env)
        for listed_facts in members:
            facts = inspected.get(listed_facts['name'])
            if facts is None:
                # Listed but gone by the time we inspected it: report what list said.
                facts = dict(listed_facts)
            merged = machine_facts.merge_list(facts, listed_facts)
            unmounted = client.file_facts(merged, volumes=True)['volumes_unmounted']
            if unmounted:
                warnings.append(machine_facts.volumes_lost_note(merged['name'], client.caps.version, merged['provider'],
                                                                unmounted) +
                                '. To get them back, remove it and create it again with the same volumes')
            machines.append(client.describe(merged))
    machines.sort(key=lambda m: (m['name'], m.get('provider') or ''))
    return machines, warnings + client.warnings
