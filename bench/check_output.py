#!/usr/bin/env python3
"""Runs attn-bench once and checks what it printed: the checks of bench/meson.build's tests.

    check_output.py [OPTION]... -- ATTN_BENCH [ARG]...

  --exit N           the exit status it must end with (default 0)
  --match REGEX      must match standard output and error together (multiline; repeatable)
  --absent REGEX     must not match them (repeatable)
  --json             standard output must be JSON that `python3 -m json.tool` accepts; the
                     regexes then see json.tool's output (one key per line) and standard error
  --json-check EXPR  a Python expression that must be true of the parsed JSON, `j`, with `err`
                     the standard error and `re` at hand (repeatable)
  --svg              standard output must be well-formed XML with an <svg> root
  --svg-check EXPR   a Python expression that must be true of the parsed SVG, `svg`, an
                     ElementTree element; `texts` holds every <text>'s text (repeatable)
  --limit-as BYTES   the address space the run may take (RLIMIT_AS; 0: no limit), so that a
                     regression that allocates without checking fails instead of eating the
                     machine
  --timeout S        seconds the run may take (default 60)
  --rusticl          run on Mesa's rusticl (RUSTICL_ENABLE=llvmpipe): {rusticl} in the arguments
                     becomes its index in `attn-bench --list-devices`; without the device the
                     test is skipped (exit 77), or fails under CLATTN_TEST_REQUIRE_DEVICE=1;
                     under ASan it unwinds fast (rusticl deadlocks otherwise, see main)
"""
import json
import os
import re
import resource
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

SKIP = 77


def fail(why, out='', err=''):
    sys.stderr.write(f'FAIL: {why}\n--- stdout ---\n{out}\n--- stderr ---\n{err}\n')
    sys.exit(1)


def parse(argv):
    opts = {'exit': 0, 'match': [], 'absent': [], 'json': False, 'json_check': [],
            'svg': False, 'svg_check': [], 'limit_as': 0, 'timeout': 60.0, 'rusticl': False}
    i = 0
    while argv[i] != '--':
        name = argv[i][2:].replace('-', '_')
        if name in ('json', 'svg', 'rusticl'):
            opts[name] = True
            i += 1
            continue
        value = argv[i + 1]
        if isinstance(opts[name], list):
            opts[name].append(value)
        else:
            opts[name] = type(opts[name])(value)
        i += 2
    return opts, argv[i + 1:]


def rusticl_index(bench, env):
    listing = subprocess.run([bench, '--list-devices'], capture_output=True, text=True,
                             env=env, timeout=60)
    for line in listing.stdout.splitlines():
        match = re.match(r'\s*(\d+): rusticl /', line)
        if match:
            return match.group(1)
    if os.environ.get('CLATTN_TEST_REQUIRE_DEVICE') == '1':
        fail('no rusticl device, and CLATTN_TEST_REQUIRE_DEVICE=1', listing.stdout,
             listing.stderr)
    print('SKIP: no rusticl device (RUSTICL_ENABLE=llvmpipe)')
    sys.exit(SKIP)


def main():
    opts, command = parse(sys.argv[1:])
    env = dict(os.environ)
    if opts['rusticl']:
        env['RUSTICL_ENABLE'] = 'llvmpipe'
        # The test setups simulate other devices on PoCL (device 0); rusticl's own kernels
        # take 32 work-items, so their limits would be refused there. This run is about
        # rusticl as it is.
        env.pop('CLATTN_DEVICE_LIMITS', None)
        # Under ASan with slow unwinding on every malloc (.ci/trust sets it for PoCL's LSan
        # suppressions), rusticl's queue thread deadlocks inside libgcc's unwinder: unwind fast.
        # Fast unwinding stops at Mesa's first frame, so the suppressions of the drivers' own
        # leaks (tests/sanitizers/lsan.supp) cannot match: no leak check in this run, whose
        # library code the PoCL runs check.
        if 'ASAN_OPTIONS' in env:
            env['ASAN_OPTIONS'] += ':fast_unwind_on_malloc=1:detect_leaks=0'
        index = rusticl_index(command[0], env)
        command = [arg.replace('{rusticl}', index) for arg in command]

    def limit():
        if opts['limit_as']:
            resource.setrlimit(resource.RLIMIT_AS, (opts['limit_as'], opts['limit_as']))

    try:
        run = subprocess.run(command, capture_output=True, text=True, env=env,
                             timeout=opts['timeout'], preexec_fn=limit)
    except subprocess.TimeoutExpired as e:
        def text(data):  # what was read before the kill, bytes whatever `text` said
            return data.decode(errors='replace') if isinstance(data, bytes) else data or ''
        fail(f'still running after {opts["timeout"]} s', text(e.stdout), text(e.stderr))
    out, err = run.stdout, run.stderr
    if run.returncode != opts['exit']:
        fail(f'exit status {run.returncode}, expected {opts["exit"]}', out, err)
    seen = out
    if opts['json']:
        tool = subprocess.run([sys.executable, '-m', 'json.tool'], input=out,
                              capture_output=True, text=True)
        if tool.returncode != 0:
            fail(f'json.tool rejects the output: {tool.stderr}', out, err)
        seen = tool.stdout
        j = json.loads(out)
        for expr in opts['json_check']:
            if not eval(expr, {'re': re, 'j': j, 'err': err}):
                fail(f'not true of the JSON: {expr}', tool.stdout, err)
    if opts['svg']:
        try:
            svg = ElementTree.fromstring(out)
        except ElementTree.ParseError as e:
            fail(f'not well-formed XML: {e}', out, err)
        if not svg.tag.endswith('svg'):
            fail(f'the root is <{svg.tag}>, not <svg>', out, err)
        texts = [''.join(t.itertext()) for t in svg.iter() if t.tag.endswith('text')]
        for expr in opts['svg_check']:
            if not eval(expr, {'svg': svg, 'texts': texts}):
                fail(f'not true of the SVG: {expr}', out, err)
    text = seen + err
    for pattern in opts['match']:
        if not re.search(pattern, text, re.M):
            fail(f'no match for {pattern!r}', seen, err)
    for pattern in opts['absent']:
        if re.search(pattern, text, re.M):
            fail(f'unexpected match for {pattern!r}', seen, err)


main()
