# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a podman command, a file read and a file write look like in the target's shell, for the
controller-side path (plugins/plugin_utils/_controller_side.py): POSIX sh, or PowerShell on Windows.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Each shell turns one operation into one script, and every script answers with one line that
only holds ASCII, whatever the console's code page or the connection's framing:

    @@machinist key=value key=value ...

where payloads (podman's stdout and stderr, a file's bytes) are base64. `parse_answer` reads it.

PowerShell, the careful way:
- Every string goes in single quotes, with the five characters PowerShell reads as a single
  quote (' and U+2018 to U+201B) doubled; nothing in single quotes is expanded ($, backticks).
  A string with a line break goes in as base64 instead: Ansible's encoder strips each line of
  the script, which would change it.
- podman.exe gets its arguments as one Windows command line built here by the rules its C runtime
  parses with (backslashes before a quote doubled, quotes escaped), handed to Start-Process as a
  single string: PowerShell's own passing of arguments to native programs differs between 5.1
  and 7.x (embedded quotes, empty strings), a single pre-quoted string does not.
- Output goes to temporary files, not pipes: `podman machine start` leaves helpers running that
  would inherit a pipe and hold the connection open. A time limit kills the whole process tree.
"""

from __future__ import annotations

import base64
import ntpath
import posixpath
import re
import shlex

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._host.folders import folders

MARK = '@@machinist'
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
# Characters Python's str.splitlines() breaks at: a line break inside a literal would be changed
# by Ansible's PowerShell encoder, which strips every line of the script.
_LINE_BREAKS = re.compile('[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]')
_PS_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")


class ShellError(MachinistError):
    pass


def b64(data):
    if not isinstance(data, bytes):
        data = data.encode('utf-8')
    return base64.b64encode(data).decode('ascii')


def parse_answer(stdout):
    """The fields of the last @@machinist line of a script's stdout, base64 fields left encoded."""
    for line in reversed((stdout or '').splitlines()):
        line = line.strip()
        if line.startswith(MARK + ' ') or line == MARK:
            fields = {}
            for item in line[len(MARK):].split():
                key, value = item.split('=', 1) if '=' in item else (item, '')
                fields[key] = value
            return fields
    return None


def unb64(value):
    return base64.b64decode(value or '').decode('utf-8', 'replace')


def check_env(env):
    for name in env:
        if not _ENV_NAME.fullmatch(name):
            raise ShellError('environment variable name %r is not a plain name' % name)


# -- PowerShell ------------------------------------------------------------------------------

def ps_quote(value):
    """A PowerShell single-quoted string literal of value (no line breaks: see ps_string)."""
    return "'" + _PS_QUOTES.sub(r'\1\1', value) + "'"


def ps_string(value):
    """An expression that evaluates to value, whatever it holds."""
    if _LINE_BREAKS.search(value):
        return "[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('%s'))" % b64(value)
    return ps_quote(value)


def win_arg(arg):
    """One argument of a Windows command line, as CommandLineToArgvW and the C runtime parse it."""
    if arg and not re.search(r'[\s"]', arg):
        return arg
    out, backslashes = ['"'], 0
    for ch in arg:
        if ch == '\\':
            backslashes += 1
            continue
        if ch == '"':
            out.append('\\' * (backslashes * 2 + 1) + '"')
        else:
            out.append('\\' * backslashes + ch)
        backslashes = 0
    out.append('\\' * (backslashes * 2) + '"')
    return ''.join(out)


def win_command_line(args):
    return ' '.join(win_arg(a) for a in args)


def expand_windows_path(path, home):
    """~ and %USERPROFILE% (and $env:USERPROFILE) at the start of a path, against the target's home."""
    if not path or not home:
        return path
    for prefix in ('~', '%USERPROFILE%', '$env:USERPROFILE', '${env:USERPROFILE}'):
        if path == prefix or path.lower().startswith((prefix.lower() + '\\', prefix.lower() + '/')):
            rest = path[len(prefix):].lstrip('\\/')
            return ntpath.join(home, rest.replace('/', '\\')) if rest else home
    return path


class PowerShell:
    family = 'powershell'
    path = ntpath

    def run(self, argv, env, timeout):
        """Runs argv[0] with argv[1:] and env added, answers rc, timed_out, out, err."""
        check_env(env)
        lines = ["$ErrorActionPreference = 'Stop'"]
        for name in sorted(env):
            lines.append('$env:%s = %s' % (name, ps_string(env[name])))
        lines += [
            '$o = [IO.Path]::GetTempFileName(); $e = [IO.Path]::GetTempFileName()',
            '$t = 0',
            'try {',
            '$p = Start-Process -FilePath %s%s -NoNewWindow -PassThru -RedirectStandardOutput $o '
            '-RedirectStandardError $e' % (ps_string(argv[0]), (' -ArgumentList %s' % ps_string(win_command_line(argv[1:])))
                                           if argv[1:] else ''),
            # Without reading Handle, ExitCode stays empty after the process ends (a .NET quirk).
            '$null = $p.Handle',
        ]
        if timeout:
            lines += [
                # cmd.exe does the redirection: Windows PowerShell turns a native program's redirected stderr
                # into errors, which 'Stop' would throw (taskkill complains when a child is already gone).
                'if (-not $p.WaitForExit(%d)) { $t = 1; & cmd.exe /c "taskkill /T /F /PID $($p.Id) >nul 2>&1"; '
                '$p.WaitForExit() }' % (int(timeout) * 1000),
            ]
        else:
            lines.append('$p.WaitForExit()')
        lines += [
            '$rc = $p.ExitCode',
            '} catch { $rc = 127; [IO.File]::WriteAllText($e, $_.Exception.Message) }',
            '$ob = [Convert]::ToBase64String([IO.File]::ReadAllBytes($o))',
            '$eb = [Convert]::ToBase64String([IO.File]::ReadAllBytes($e))',
            'Remove-Item -LiteralPath $o, $e -Force -ErrorAction SilentlyContinue',
            "Write-Output ('%s rc={0} timed_out={1} out={2} err={3}' -f $rc, $t, $ob, $eb)" % MARK,
        ]
        return '\n'.join(lines)

    def environment(self, env):
        """Script lines that set env for the rest of the script (the task's `environment`)."""
        check_env(env)
        return ''.join('$env:%s = %s\n' % (name, ps_string(env[name])) for name in sorted(env))

    def read(self, path):
        p = ps_string(path)
        return '\n'.join([
            'if (Test-Path -LiteralPath %s -PathType Leaf) {' % p,
            "Write-Output ('%s found=1 data={0}' -f [Convert]::ToBase64String([IO.File]::ReadAllBytes(%s)))" % (MARK, p),
            "} else { Write-Output '%s found=0' }" % MARK,
        ])

    def write(self, path, text):
        """Writes atomically: a temporary file in the same folder, then a rename over the target."""
        folder = self.path.dirname(path)
        return '\n'.join([
            "$ErrorActionPreference = 'Stop'",
            '$null = New-Item -ItemType Directory -Force -Path %s' % ps_string(folder),
            '$tmp = Join-Path %s (".tmp-" + [Guid]::NewGuid().ToString("N"))' % ps_string(folder),
            "[IO.File]::WriteAllBytes($tmp, [Convert]::FromBase64String('%s'))" % b64(text),
            'Move-Item -LiteralPath $tmp -Destination %s -Force' % ps_string(path),
            "Write-Output '%s written=1'" % MARK,
        ])

    def exists(self, path):
        """exists=1 when there is anything at `path`; file=1 when it is a file."""
        p = ps_string(path)
        return ("if (Test-Path -LiteralPath %s) { Write-Output ('%s exists=1 file={0}' -f [int](Test-Path -LiteralPath %s "
                "-PathType Leaf)) } else { Write-Output '%s exists=0 file=0' }" % (p, MARK, p, MARK))

    def remove(self, path):
        return ("Remove-Item -LiteralPath %s -Force -ErrorAction SilentlyContinue; Write-Output '%s removed=1'"
                % (ps_string(path), MARK))

    def stdin_to_file(self, path):
        """Keeps what the connection sends on stdin (a secret never put in a script) in a private file."""
        return '\n'.join([
            "$ErrorActionPreference = 'Stop'",
            '$null = New-Item -ItemType Directory -Force -Path %s' % ps_string(self.path.dirname(path)),
            '[IO.File]::WriteAllText(%s, [Console]::In.ReadToEnd())' % ps_string(path),
            "Write-Output '%s written=1'" % MARK,
        ])

    def digest(self, path):
        """sha256 and size of a file; both empty when there is no such file."""
        p = ps_string(path)
        return '\n'.join([
            'if (Test-Path -LiteralPath %s -PathType Leaf) {' % p,
            "Write-Output ('%s sha256={0} size={1}' -f (Get-FileHash -Algorithm SHA256 -LiteralPath %s).Hash.ToLower(), "
            '(Get-Item -LiteralPath %s).Length)' % (MARK, p, p),
            "} else { Write-Output '%s sha256= size=' }" % MARK,
        ])

    def size(self, path):
        p = ps_string(path)
        return ("if (Test-Path -LiteralPath %s -PathType Leaf) { Write-Output ('%s size={0}' -f (Get-Item -LiteralPath %s)"
                ".Length) } else { Write-Output '%s size=' }" % (p, MARK, p, MARK))

    def move(self, src, dst):
        return ("Move-Item -LiteralPath %s -Destination %s -Force; Write-Output '%s moved=1'"
                % (ps_string(src), ps_string(dst), MARK))

    def mkdir(self, path):
        return "$null = New-Item -ItemType Directory -Force -Path %s; Write-Output '%s made=1'" % (ps_string(path), MARK)

    # curl.exe ships with Windows 10 1803 and later.
    curl = 'curl.exe'

    def host(self, program=''):
        """The target's OS, architecture, home, whether this session is elevated (Hyper-V needs it), and the
        identity of `program` (path:size:mtime:0), by which the podman version is cached."""
        return '\n'.join([
            '$id = [Security.Principal.WindowsIdentity]::GetCurrent()',
            '$admin = ([Security.Principal.WindowsPrincipal]$id).IsInRole([Security.Principal.WindowsBuiltInRole]'
            '::Administrator)',
            "$ident = ''",
            '$c = Get-Command -Name %s -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1'
            % ps_string(program or 'podman.exe'),
            'if ($c) { $i = Get-Item -LiteralPath $c.Source; $ident = "{0}:{1}:{2}:0" -f $c.Source, $i.Length, '
            '$i.LastWriteTimeUtc.Ticks }',
            "Write-Output ('%s os=windows arch={0} admin={1} home={2} program={3} config={4} cpus={5}' -f "
            '$env:PROCESSOR_ARCHITECTURE, [int]$admin, [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('
            '$env:USERPROFILE)), [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($ident)), '
            '[Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("$env:APPDATA")), '
            '[Environment]::ProcessorCount)' % MARK,
        ])

    def lease_take(self, path, token, hold):
        """As PosixShell.lease_take: New-Item of a folder that exists fails, so one taker wins."""
        p = ps_string(path)
        owner = 'Join-Path %s owner' % p
        return '\n'.join([
            "$ErrorActionPreference = 'Stop'",
            'try { $null = New-Item -ItemType Directory -Force -Path %s } catch { Write-Output \'%s got=1 unlocked=1\'; '
            'exit 0 }' % (ps_string(self.path.dirname(path)), MARK),
            '$now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()',
            'try {',
            '$null = New-Item -ItemType Directory -Path %s' % p,
            "[IO.File]::WriteAllText((%s), ('{0} {1}' -f %s, ($now + %d)))" % (owner, ps_string(token), int(hold)),
            "Write-Output '%s got=1'" % MARK,
            '} catch {',
            "$o = @(((Get-Content -LiteralPath (%s) -ErrorAction SilentlyContinue) -join ' ') -split ' ')" % owner,
            '$old = (Get-Item -LiteralPath %s).LastWriteTimeUtc -lt [DateTime]::UtcNow.AddMinutes(-1)' % p,
            'if (($o.Count -ge 2 -and [int64]$o[1] -lt $now) -or ($o.Count -lt 2 -and $old)) {',
            'Remove-Item -LiteralPath %s -Recurse -Force; Write-Output \'%s got=0 broke=1\'' % (p, MARK),
            "} else { Write-Output '%s got=0' }" % MARK,
            '}',
        ])

    def lease_drop(self, path, token):
        p = ps_string(path)
        return '\n'.join([
            "$o = @(((Get-Content -LiteralPath (Join-Path %s owner) -ErrorAction SilentlyContinue) -join ' ') -split ' ')" % p,
            'if ($o[0] -eq %s) { Remove-Item -LiteralPath %s -Recurse -Force -ErrorAction SilentlyContinue }' % (ps_string(token), p),
            "Write-Output '%s dropped=1'" % MARK,
        ])

    def expand(self, path, home):
        return expand_windows_path(path, home)


# -- POSIX sh --------------------------------------------------------------------------------

class PosixShell:
    family = 'sh'
    path = posixpath

    # GNU timeout exits 124 when it stopped the command, 137 when it had to kill it.
    TIMED_OUT = (124, 137)

    def run(self, argv, env, timeout):
        check_env(env)
        command = ' '.join(shlex.quote(a) for a in argv)
        if env:
            command = 'env %s %s' % (' '.join(shlex.quote('%s=%s' % kv) for kv in sorted(env.items())), command)
        limit = ''
        if timeout:
            # timeout signals its whole process group, so the VM that podman started goes too.
            limit = 'if command -v timeout >/dev/null 2>&1; then lim="timeout -k 15 %d"; fi; ' % int(timeout)
        return (
            'd=$(mktemp -d) || exit 1; trap \'rm -rf "$d"\' EXIT; lim=; %s'
            '$lim %s </dev/null >"$d/o" 2>"$d/e"; rc=$?; t=0; '
            'if [ -n "$lim" ] && { [ $rc -eq 124 ] || [ $rc -eq 137 ]; }; then t=1; fi; '
            'printf \'%s rc=%%s timed_out=%%s out=%%s err=%%s\\n\' "$rc" "$t" '
            '"$(base64 <"$d/o" | tr -d \'\\n\')" "$(base64 <"$d/e" | tr -d \'\\n\')"'
            % (limit, command, MARK))

    def environment(self, env):
        """Script lines that export env for the rest of the script (the task's `environment`)."""
        check_env(env)
        return ''.join('export %s=%s\n' % (name, shlex.quote(env[name])) for name in sorted(env))

    def read(self, path):
        p = shlex.quote(path)
        return ('if [ -f %s ] && [ -r %s ]; then printf \'%s found=1 data=%%s\\n\' "$(base64 <%s | tr -d \'\\n\')"; '
                'else printf \'%s found=0\\n\'; fi' % (p, p, MARK, p, MARK))

    def write(self, path, text):
        folder = shlex.quote(self.path.dirname(path) or '.')
        return ('umask 077 && mkdir -p -- %s && t=$(mktemp -- %s/.tmp-XXXXXX) && printf %%s %s | base64 -d >"$t" && '
                'mv -f -- "$t" %s && printf \'%s written=1\\n\''
                % (folder, folder, shlex.quote(b64(text)), shlex.quote(path), MARK))

    def exists(self, path):
        p = shlex.quote(path)
        return ("if [ -f %s ]; then printf '%s exists=1 file=1\\n'; elif [ -e %s ]; then printf '%s exists=1 file=0\\n'; "
                "else printf '%s exists=0 file=0\\n'; fi" % (p, MARK, p, MARK, MARK))

    def remove(self, path):
        return "rm -f -- %s; printf '%s removed=1\\n'" % (shlex.quote(path), MARK)

    def stdin_to_file(self, path):
        folder = shlex.quote(self.path.dirname(path) or '.')
        return ("umask 077 && mkdir -p -- %s && cat >%s && printf '%s written=1\\n'" % (folder, shlex.quote(path), MARK))

    def digest(self, path):
        p = shlex.quote(path)
        return ('if [ -f %s ]; then s=$( (sha256sum <%s 2>/dev/null || shasum -a 256 <%s) | cut -d" " -f1); '
                'n=$(wc -c <%s | tr -d " "); else s=; n=; fi; printf \'%s sha256=%%s size=%%s\\n\' "$s" "$n"'
                % (p, p, p, p, MARK))

    def size(self, path):
        p = shlex.quote(path)
        return ('if [ -f %s ]; then n=$(wc -c <%s | tr -d " "); else n=; fi; printf \'%s size=%%s\\n\' "$n"'
                % (p, p, MARK))

    def move(self, src, dst):
        return "mv -f -- %s %s && printf '%s moved=1\\n'" % (shlex.quote(src), shlex.quote(dst), MARK)

    def mkdir(self, path):
        return "umask 077 && mkdir -p -- %s && printf '%s made=1\\n'" % (shlex.quote(path), MARK)

    curl = 'curl'

    def host(self, program=''):
        # The program's identity: its resolved path, size, mtime and inode (GNU stat, else BSD stat).
        ident = ('i=; p=$(command -v %s 2>/dev/null) && p=$(readlink -f "$p" 2>/dev/null || printf %%s "$p") && '
                 'i="$p:$(stat -L -c \'%%s:%%Y:%%i\' "$p" 2>/dev/null || stat -L -f \'%%z:%%m:%%i\' "$p")"; '
                 % shlex.quote(program or 'podman'))
        # The CPUs: getconf on Linux and macOS alike (nproc is GNU's, sysctl BSD's).
        return (ident + 'printf \'%s os=%%s arch=%%s admin=%%s home=%%s state=%%s cache=%%s config=%%s program=%%s cpus=%%s\\n\' '
                '"$(uname -s | tr A-Z a-z)" "$(uname -m)" "$([ "$(id -u)" = 0 ] && echo 1 || echo 0)" '
                '"$(printf %%s "$HOME" | base64 | tr -d \'\\n\')" '
                '"$(printf %%s "${XDG_STATE_HOME:-}" | base64 | tr -d \'\\n\')" '
                '"$(printf %%s "${XDG_CACHE_HOME:-}" | base64 | tr -d \'\\n\')" '
                '"$(printf %%s "${XDG_CONFIG_HOME:-}" | base64 | tr -d \'\\n\')" '
                '"$(printf %%s "$i" | base64 | tr -d \'\\n\')" '
                '"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)"' % MARK)

    def lease_take(self, path, token, hold):
        """Takes the lease `path` (a folder: mkdir is atomic) for `hold` seconds, or breaks one whose holder's
        time ran out (it died); answers got=1 when taken."""
        p = shlex.quote(path)
        return ('umask 077; mkdir -p -- %s 2>/dev/null || { printf \'%s got=1 unlocked=1\\n\'; exit 0; }; now=$(date +%%s); '
                'if mkdir -- %s 2>/dev/null; then printf \'%%s %%s\\n\' %s "$((now + %d))" >%s/owner; printf \'%s got=1\\n\'; '
                'else set -- $(cat %s/owner 2>/dev/null); '
                'if { [ -n "${2:-}" ] && [ "$2" -lt "$now" ]; } || { [ -z "${2:-}" ] && [ -n "$(find %s -maxdepth 0 -mmin +1 2>/dev/null)" ]; }; '
                'then rm -rf -- %s; printf \'%s got=0 broke=1\\n\'; else printf \'%s got=0\\n\'; fi; fi'
                % (shlex.quote(self.path.dirname(path) or '.'), MARK, p, shlex.quote(token), int(hold), p, MARK, p, p, p,
                   MARK, MARK))

    def lease_drop(self, path, token):
        p = shlex.quote(path)
        return ('set -- $(cat %s/owner 2>/dev/null); if [ "${1:-}" = %s ]; then rm -rf -- %s; fi; printf \'%s dropped=1\\n\''
                % (p, shlex.quote(token), p, MARK))

    def expand(self, path, home):
        if path and home and (path == '~' or path.startswith('~/')):
            return home + path[1:]
        return path


def for_family(family):
    """The shell for an Ansible shell plugin's SHELLFAMILY."""
    return PowerShell() if family == 'powershell' else PosixShell()


WINDOWS_ARCH = {'AMD64': 'x86_64', 'ARM64': 'arm64', 'X86': 'i386'}


def host_facts(shell, fields):
    """The host dict (os, arch, admin, home, and the folders of _host/folders.py) from a host() answer."""
    if fields is None:
        raise ShellError('the target did not answer the host probe')
    home = unb64(fields.get('home'))
    arch = fields.get('arch') or ''
    os_name = (fields.get('os') or '').lower()
    host = {'os': os_name, 'arch': WINDOWS_ARCH.get(arch.upper(), arch) if os_name == 'windows' else arch,
            'admin': fields.get('admin') == '1', 'home': home, 'program_identity': unb64(fields.get('program')) or None,
            'cpus': int(fields['cpus']) if (fields.get('cpus') or '').isdigit() and int(fields['cpus']) > 0 else None}
    host.update(folders(os_name == 'windows', home, unb64(fields.get('state')), unb64(fields.get('cache')),
                        unb64(fields.get('config'))))
    return host
