# The dictionary attack on the broker's free-text guard, shared by
# t_attack_text_guess and t_attack_text_guess_uids (lib.sh puts this folder
# on PYTHONPATH).
#
#   -m textguess dict PASSWORD   3,000 candidates of PASSWORD's shape, one a
#                                line, PASSWORD the 2,500th.
#   search(words, ask)           sends the words 18 at a time (246 bytes) as
#                                the task of a lease through ask(task) ->
#                                (status, reply); a refusal for the text is
#                                the hit, narrowed down by halves.  Prints
#                                the word found ("none") and the count of
#                                each status ("429:12 400:3").
import random
import string
import sys


def dictionary(pw):
    r = random.SystemRandom()
    w = ["Pw" + "".join(r.choice(string.ascii_lowercase + string.digits)
                        for _ in range(10)) for _ in range(3000)]
    w[2500] = pw
    return w


def search(words, ask):
    codes = {}

    def hit(ws):
        st, reply = ask(" ".join(ws))
        codes[st] = codes.get(st, 0) + 1
        return st == 400 and b"holds the value" in reply
    found = "none"
    for i in range(0, len(words), 18):
        batch = words[i:i + 18]
        if hit(batch):
            while len(batch) > 1:
                half = batch[:len(batch) // 2]
                batch = half if hit(half) else batch[len(batch) // 2:]
            found = batch[0]
            break
    print(found)
    print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))


if __name__ == "__main__" and sys.argv[1:2] == ["dict"]:
    print("\n".join(dictionary(sys.argv[2])))
