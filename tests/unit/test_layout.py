# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The layout of plugins/module_utils and plugins/plugin_utils: packages by domain, imports that only
run down the layers, no cycle, no controller-only code in a module's payload, and a README that says so."""
from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location('import_graph', os.path.join(ROOT, 'tests', 'import_graph.py'))
graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(graph)


def test_the_collection_has_no_offence():
    assert graph.offences(graph.graph()) == []


def test_every_package_is_in_the_layers_and_has_files():
    packages = set(graph.package_of(rel) for rel in graph.graph())
    assert packages == set(graph.RANK)


def test_an_upward_import_is_an_offence():
    edges = dict((name + '/x', (set(), set())) for name, _r, _w in graph.LAYERS)
    edges['module_utils/_host/x'] = ({'module_utils/_machine/x'}, set())
    found = graph.offences(edges)
    assert any('module_utils/_host/x imports module_utils/_machine/x: an import up or across' in f for f in found)


def test_an_import_across_one_layer_is_an_offence():
    edges = dict((name + '/x', (set(), set())) for name, _r, _w in graph.LAYERS)
    edges['module_utils/_image/x'] = ({'module_utils/_machine/x'}, set())
    assert any('module_utils/_image/x imports module_utils/_machine/x' in f for f in graph.offences(edges))


def test_controller_only_code_in_module_utils_is_an_offence():
    edges = dict((name + '/x', (set(), set())) for name, _r, _w in graph.LAYERS)
    edges['module_utils/_tasks/x'] = ({'plugin_utils/x'}, set())
    edges['module_utils/_machine/x'] = (set(), {'ansible.module_utils.basic'})
    found = graph.offences(edges)
    assert any('module payloads must not carry controller-only code' in f for f in found)
    assert any('module_utils imports nothing from Ansible' in f for f in found)


def test_a_cycle_is_an_offence():
    edges = dict((name + '/x', (set(), set())) for name, _r, _w in graph.LAYERS)
    edges['module_utils/_host/a'] = ({'module_utils/_host/b'}, set())
    edges['module_utils/_host/b'] = ({'module_utils/_host/a'}, set())
    assert 'a cycle: module_utils/_host/a -> module_utils/_host/b -> module_utils/_host/a' in graph.offences(edges)


def test_a_flat_file_and_an_unnamed_package_are_offences():
    edges = dict((name + '/x', (set(), set())) for name, _r, _w in graph.LAYERS)
    edges['module_utils/_loose'] = (set(), set())
    edges['module_utils/_new/x'] = (set(), set())
    found = graph.offences(edges)
    assert any(f.startswith('module_utils/_loose: a flat file') for f in found)
    assert any(f.startswith('module_utils/_new: a package that LAYERS does not name') for f in found)


def test_the_readme_shows_the_layers_as_the_code_has_them():
    with open(os.path.join(ROOT, 'README.md')) as f:
        readme = f.read()
    assert graph.readme_section() in readme, 'run: python3 tests/import_graph.py --readme, and paste it into README.md'
