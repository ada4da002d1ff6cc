"""Run a command in a process whose kernel refuses the AMX tile state (a seccomp filter makes arch_prctl fail
with EPERM): ``python tests/refuse_amx.py -c CODE`` or ``python tests/refuse_amx.py mxgan ARGS...``."""

import ctypes
import errno
import struct
import sys

SYS_ARCH_PRCTL = 158
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
LOAD_SYSCALL_NUMBER, JUMP_IF_EQUAL, RETURN = 0x20, 0x15, 0x06
SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x00050000, 0x7FFF0000


def refuse_arch_prctl() -> None:
    """From now on every arch_prctl of this process (and its children) fails with EPERM."""
    program = [(LOAD_SYSCALL_NUMBER, 0, 0, 0), (JUMP_IF_EQUAL, 0, 1, SYS_ARCH_PRCTL),
               (RETURN, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM), (RETURN, 0, 0, SECCOMP_RET_ALLOW)]
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    filters = ctypes.create_string_buffer(code)
    fprog = struct.pack("HxxxxxxP", len(program), ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    prog = ctypes.create_string_buffer(fprog)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.c_ulong(ctypes.addressof(prog)), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    refuse_arch_prctl()
    if sys.argv[1] == "-c":
        exec(sys.argv[2])
    else:
        from mxgan.entry import run
        sys.exit(run(sys.argv[2:]))
