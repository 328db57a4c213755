# typer.py INPUTS CMD...: run CMD on a new pseudo-terminal (a session of its
# own, /dev/tty being that terminal), typing the comma-separated INPUTS at
# its prompts (text ending in "PIN: " or "Again: "), one per prompt.  What
# CMD wrote goes to stdout; exits with CMD's status.  For tests of what
# airlock reads from the terminal only (the approver PIN).
import os, pty, select, sys, time
inputs = [x for x in sys.argv[1].split(',') if x]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out, typed, end = b'', 0, time.time() + 60
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    try:
        d = os.read(fd, 4096)
    except OSError:
        d = b''
    if not d:
        break
    out += d
    prompts = out.count(b'PIN: ') + out.count(b'Again: ')
    while typed < prompts and typed < len(inputs):
        os.write(fd, inputs[typed].encode() + b'\n')
        typed += 1
else:
    os.kill(pid, 9)		# still running after a minute: a test hangs
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
sys.exit(os.waitstatus_to_exitcode(st))
