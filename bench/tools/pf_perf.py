# SPDX-License-Identifier: GPL-2.0-or-later
"""What relay-bound.sh's and udp-bound.sh's reports share: the samples of a
`perf script` text file (a header line, then one indented "IP SYMBOL" frame
per line, leaf first, a blank line after each sample)."""

import re

FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s*$")
# Addresses at or above this are the kernel's (x86-64).
KERNEL_IP = 0xFFFF800000000000


def samples(path, head=str.strip):
    """[(head(header line), [(ip, symbol), ...]), ...], or None when the file
    cannot be read."""
    try:
        f = open(path, errors="replace")
    except OSError:
        return None
    out, comm, stack = [], None, []
    with f:
        for ln in f:
            if not ln.strip():
                if comm is not None:
                    out.append((comm, stack))
                comm, stack = None, []
                continue
            m = FRAME.match(ln)
            if m and comm is not None:
                stack.append((int(m.group(1), 16), m.group(2)))
            elif not ln[0].isspace() or comm is None:
                if comm is not None:
                    out.append((comm, stack))
                comm, stack = head(ln), []
    if comm is not None:
        out.append((comm, stack))
    return out
