# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading what the PowerShell scripts of _shells.py hand to Windows, by the documented rules.

PowerShell does not run here. These readers follow the two rule sets the scripts meet:
PowerShell's single-quoted strings (about_Quoting_Rules: any of ' and U+2018..U+201B ends one,
two in a row stand for one) and the Windows command line as the C runtime and
CommandLineToArgvW split it (backslashes count only before a quote).
"""
from __future__ import annotations

import re

PS_QUOTES = "'\u2018\u2019\u201a\u201b"

HARD = [
    'plain', 'two words', '', ' ', 'it\'s', '\u2018smart\u2019 \u201aquotes\u201b', 'say "hi"', '"', '""',
    '$HOME', '$(Get-Date)', '${env:USERPROFILE}', '`n`t', 'back`tick', 'C:\\Program Files\\Podman\\',
    'C:\\trailing\\\\', '\\\\server\\share', 'a\\"b', 'tab\there', 'ünïcödé ☃ 日本', '%USERPROFILE%\\x', ';&|<>^',
    '--opt=a b', '-', '@(1,2)', '#comment',
]


def ps_unquote(literal):
    """Reads one PowerShell single-quoted string literal; fails unless it is exactly one."""
    assert literal[0] in PS_QUOTES, literal
    out, i = [], 1
    while i < len(literal):
        ch = literal[i]
        if ch in PS_QUOTES:
            if i + 1 < len(literal) and literal[i + 1] in PS_QUOTES:
                out.append(literal[i + 1])
                i += 2
                continue
            assert i == len(literal) - 1, 'the literal ends early at %d: %r' % (i, literal)
            return ''.join(out)
        out.append(ch)
        i += 1
    raise AssertionError('unterminated literal %r' % literal)


def windows_argv(line):
    """Splits a command line as CommandLineToArgvW does for the arguments after the program."""
    args, cur, in_quotes, have, i = [], [], False, False, 0
    while i < len(line):
        ch = line[i]
        if ch == '\\':
            n = 0
            while i < len(line) and line[i] == '\\':
                n += 1
                i += 1
            if i < len(line) and line[i] == '"':
                cur.append('\\' * (n // 2))
                if n % 2:
                    cur.append('"')
                    i += 1
                have = True
            else:
                cur.append('\\' * n)
                have = True
            continue
        if ch == '"':
            if in_quotes and i + 1 < len(line) and line[i + 1] == '"':
                cur.append('"')
                i += 2
                continue
            in_quotes = not in_quotes
            have = True
        elif ch in ' \t' and not in_quotes:
            if have:
                args.append(''.join(cur))
                cur, have = [], False
        else:
            cur.append(ch)
            have = True
        i += 1
    if have:
        args.append(''.join(cur))
    return args


def start_process_argv(script):
    """The program and arguments a PowerShell run script hands to Start-Process."""
    m = re.search(r"Start-Process -FilePath ('(?:[^'\u2018-\u201b]|''|[\u2018-\u201b]{2})*')"
                  r"(?: -ArgumentList ('(?:[^'\u2018-\u201b]|''|[\u2018-\u201b]{2})*'))?", script)
    assert m, script
    args = windows_argv(ps_unquote(m.group(2))) if m.group(2) else []
    return [ps_unquote(m.group(1))] + args
