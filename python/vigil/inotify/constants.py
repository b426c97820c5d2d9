"""The inotify package's constants: every IN_* name and value, and
MASK_LOOKUP, whose order decides the order of an event's type_names, as the
inotify package (0.2.x) has them."""

# inotify_init1() flags.
IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o0004000

# Events a watch can ask for.
IN_ACCESS = 0x00000001         # read
IN_MODIFY = 0x00000002         # written
IN_ATTRIB = 0x00000004         # metadata changed
IN_CLOSE_WRITE = 0x00000008    # closed after writing
IN_CLOSE_NOWRITE = 0x00000010  # closed, not written
IN_OPEN = 0x00000020           # opened
IN_MOVED_FROM = 0x00000040     # renamed away from here
IN_MOVED_TO = 0x00000080       # renamed to here
IN_CREATE = 0x00000100         # created here
IN_DELETE = 0x00000200         # deleted from here
IN_DELETE_SELF = 0x00000400    # the watched file or directory deleted
IN_MOVE_SELF = 0x00000800      # the watched file or directory renamed

IN_CLOSE = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO

IN_ALL_EVENTS = (IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |
                 IN_CLOSE_NOWRITE | IN_OPEN | IN_MOVED_FROM | IN_MOVED_TO |
                 IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

# Sent by the kernel whether asked for or not.
IN_UNMOUNT = 0x00002000     # the file system went away
IN_Q_OVERFLOW = 0x00004000  # the queue overflowed: events were lost
IN_IGNORED = 0x00008000     # the watch is gone

# Flags.
IN_ONLYDIR = 0x01000000      # watch only a directory
IN_DONT_FOLLOW = 0x02000000  # do not follow a symbolic link
IN_MASK_ADD = 0x20000000     # add to an existing watch's mask
IN_ISDIR = 0x40000000        # the event is about a directory
IN_ONESHOT = 0x80000000      # one event, then the watch goes

# By value. The first two keys are IN_CLOEXEC and IN_NONBLOCK, and
# IN_NONBLOCK's value is IN_MOVE_SELF's: a dict keeps a key where it was
# first put, so 'IN_MOVE_SELF' comes second when names are listed in this
# order, as the inotify package lists them.
MASK_LOOKUP = {
    0o2000000: 'IN_CLOEXEC',
    0o0004000: 'IN_NONBLOCK',

    0x00000001: 'IN_ACCESS',
    0x00000002: 'IN_MODIFY',
    0x00000004: 'IN_ATTRIB',
    0x00000008: 'IN_CLOSE_WRITE',
    0x00000010: 'IN_CLOSE_NOWRITE',
    0x00000020: 'IN_OPEN',
    0x00000040: 'IN_MOVED_FROM',
    0x00000080: 'IN_MOVED_TO',
    0x00000100: 'IN_CREATE',
    0x00000200: 'IN_DELETE',
    0x00000400: 'IN_DELETE_SELF',
    0x00000800: 'IN_MOVE_SELF',

    0x00002000: 'IN_UNMOUNT',
    0x00004000: 'IN_Q_OVERFLOW',
    0x00008000: 'IN_IGNORED',

    0x01000000: 'IN_ONLYDIR',
    0x02000000: 'IN_DONT_FOLLOW',
    0x20000000: 'IN_MASK_ADD',
    0x40000000: 'IN_ISDIR',
    0x80000000: 'IN_ONESHOT',
}
