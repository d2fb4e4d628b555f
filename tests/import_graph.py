# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The import graph of plugins/module_utils and plugins/plugin_utils, checked against the layers.

    python3 tests/import_graph.py            the packages, what each owns, and what each imports
    python3 tests/import_graph.py --files    the same, file by file
    python3 tests/import_graph.py --readme   the README's layout section, as it must read

It exits 1, naming each offence, when an import runs up the layers (or sideways between two
packages of one layer), when files import each other in a cycle, when module_utils imports
plugin_utils or Ansible, or when a package on disk is missing from LAYERS (or the other way round).
The unit tests run it (tests/unit/test_layout.py), so the map below cannot drift from the code.
"""

from __future__ import annotations

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = 'ansible_collections.machinist.podman.plugins.'

# Lowest first: a package may import its own files and those of lower layers only.
LAYERS = [
    ('module_utils/_common', 0, 'the error base every failure derives from, the failed result made from one, '
                                'replacing a file atomically'),
    ('module_utils/_host', 1, 'the host that runs podman: running programs and leases, its folders, the state store'),
    ('module_utils/_ignition', 1, 'Ignition configs: options checked, versioned by field, encoded, merged (pure)'),
    ('module_utils/_image', 2, 'machine OS images: what a source\'s name says, sources, HTTP and registry clients, the '
                               'streaming fetch, the cache'),
    ('module_utils/_machine', 3, 'podman machine: versions, providers, options, facts, commands, podman\'s errors, '
                                 'the plan, the client, the converger'),
    ('module_utils/_machine_os', 4, 'the OS inside a machine: the probe read, the way chosen, the steps, the converger'),
    ('module_utils/_api', 4, 'the libpod REST API: HTTP over a socket or SSH with host keys checked, the client, '
                             'the endpoint of a machine'),
    ('module_utils/_container', 5, 'containers and container images, through the API'),
    ('module_utils/_forward', 5, 'port forwards in gvproxy: the plan, their owners, the record kept in the machine'),
    ('module_utils/_machine_network', 5, 'a machine on a corporate network: CA certificates, a proxy and registry '
                                         'mirrors checked, their files per OS family, converged over the machine\'s SSH'),
    ('module_utils/_machine_health', 6, 'a machine\'s health: each check read from the host, the guest and gvproxy, '
                                        'its findings, the repairs and the check again'),
    ('module_utils/_tasks', 7, 'what each module does with its options, for the module path and the controller-side '
                               'path, and the one way a task fails'),
    ('plugin_utils', 8, 'controller-only code: the controller-side path, the sh and PowerShell scripts it sends, '
                        'its runner, the programs it starts itself, the target-side image fetch'),
]
RANK = dict((name, rank) for name, rank, _what in LAYERS)


def package_of(rel):
    """'module_utils/_machine' for plugins/module_utils/_machine/plan.py; 'plugin_utils' for its files."""
    parts = rel.split('/')
    return 'plugin_utils' if parts[0] == 'plugin_utils' else '/'.join(parts[:2])


def sources():
    """{'module_utils/_machine/plan': path} for every Python file of module_utils and plugin_utils."""
    found = {}
    for top in ('module_utils', 'plugin_utils'):
        for folder, dirs, files in os.walk(os.path.join(ROOT, 'plugins', top)):
            dirs[:] = sorted(d for d in dirs if d != '__pycache__')
            for name in sorted(files):
                if name.endswith('.py') and name != '__init__.py':
                    path = os.path.join(folder, name)
                    found[os.path.relpath(path, os.path.join(ROOT, 'plugins'))[:-3]] = path
    return found


def imports(path, known):
    """(the collection's files this file imports, the Ansible modules it imports)."""
    ours, ansible = set(), set()
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module + '.' + a.name for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith(PREFIX):
                rel = name[len(PREFIX):].replace('.', '/')
                if rel in known:
                    ours.add(rel)
            elif name == 'ansible' or name.startswith('ansible.'):
                ansible.add(name)
    return ours, ansible


def graph():
    known = sources()
    return dict((rel, imports(path, known)) for rel, path in known.items())


def offences(edges):
    found = []
    packages = set(package_of(rel) for rel in edges)
    for name in sorted(packages - set(RANK)):
        found.append('%s: a package that LAYERS does not name; give it a layer and a line' % name)
    for name in sorted(set(RANK) - packages):
        found.append('%s: in LAYERS but not on disk' % name)
    for rel, (ours, ansible) in sorted(edges.items()):
        here = package_of(rel)
        if rel.startswith('module_utils/') and rel.count('/') < 2:
            found.append('%s: a flat file; module_utils files live in a package by domain' % rel)
        if rel.startswith('module_utils/') and ansible:
            found.append('%s imports %s: module_utils imports nothing from Ansible' % (rel, ', '.join(sorted(ansible))))
        for dep in sorted(ours):
            there = package_of(dep)
            if there == here:
                continue
            if dep.startswith('plugin_utils') and rel.startswith('module_utils'):
                found.append('%s imports %s: module payloads must not carry controller-only code' % (rel, dep))
            elif RANK.get(there, -1) >= RANK.get(here, -1):
                found.append('%s imports %s: an import up or across the layers (%s is layer %s, %s is %s)'
                             % (rel, dep, here, RANK.get(here), there, RANK.get(there)))
    found.extend(cycles(edges))
    return found


def cycles(edges):
    found, state = [], {}

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(edges[node][0]):
            if state.get(dep) == 1:
                found.append('a cycle: %s' % ' -> '.join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def readme_section():
    lines = ['| Package | What it owns |', '| --- | --- |']
    for name, _rank, what in LAYERS:
        lines.append('| `plugins/%s/` | %s |' % (name, what))
    return '\n'.join(lines) + '\n'


def main(argv):
    edges = graph()
    if '--readme' in argv:
        sys.stdout.write(readme_section())
        return 0
    by_package = {}
    for rel, (ours, _a) in edges.items():
        by_package.setdefault(package_of(rel), set()).update(package_of(d) for d in ours)
    for name, rank, what in LAYERS:
        deps = sorted(by_package.get(name, set()) - {name}, key=lambda p: (RANK.get(p, 99), p))
        print('%d %-24s -> %s' % (rank, name, ', '.join(deps) or '(nothing of ours)'))
        print('  %s' % what)
        if '--files' in argv:
            for rel in sorted(r for r in edges if package_of(r) == name):
                print('    %-36s -> %s' % (rel.split('/')[-1], ', '.join(sorted(edges[rel][0])) or '-'))
    found = offences(edges)
    for line in found:
        print('OFFENCE ' + line)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
