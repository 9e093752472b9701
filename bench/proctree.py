"""Process trees from /proc, shared by the benchmarks: a daemon's CPU is
that of its whole tree, and utime+stime+cutime+cstime also counts the
children it already reaped (one process per session, MDAs, ...)."""
import os

TCK = os.sysconf("SC_CLK_TCK")


def children_map():
    """{ppid: [pid, ...]} for every process."""
    m = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                m.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(d))
            except (OSError, ValueError):
                pass
    return m


def tree(root, cm=None):
    """root and all its descendants (cm: a children_map() to reuse)."""
    cm = children_map() if cm is None else cm
    out, st = [], [root]
    while st:
        p = st.pop()
        out.append(p)
        st.extend(cm.get(p, []))
    return out


def tree_cpu(root):
    """CPU seconds of root's tree: utime+stime+cutime+cstime."""
    t = 0
    for p in tree(root):
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
            t += sum(int(v) for v in s[s.rindex(")") + 2:].split()[11:15])
        except (OSError, ValueError):
            pass
    return t / TCK
