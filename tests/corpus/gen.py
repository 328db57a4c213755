#!/usr/bin/env python3
"""Generate a labelled corpus for airlock scan.

Realistic files in many languages and formats, some holding synthetic
credentials (every rule's format, in the kind of line it appears in), and
many holding hard negatives: placeholders, ${VAR} references, hashes, UUIDs,
git SHAs, lockfile integrity strings, base64 images, minified JavaScript.
labels.json lists every planted secret as {path, line, rule}.

    gen.py --out DIR [--seed N] [--files N] [--target-mb M]
"""

import argparse
import base64
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokens as T  # noqa: E402

WORDS = ("user order invoice account session cache queue worker handler "
         "client server request response config payload record item batch "
         "report metric event stream buffer parser render layout router "
         "store product price customer shipment ledger audit profile").split()


def ident(rng, style="snake"):
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    if style == "camel":
        return a + b.capitalize()
    if style == "pascal":
        return a.capitalize() + b.capitalize()
    return a + "_" + b


# ---- filler code per language -------------------------------------------
def py_lines(rng):
    f = ident(rng)
    return ["def %s(%s, %s):" % (f, ident(rng), ident(rng)),
            "    \"\"\"Return the %s for a %s.\"\"\"" % (rng.choice(WORDS), rng.choice(WORDS)),
            "    result = [x for x in %s if x.%s > %d]" % (ident(rng), rng.choice(WORDS), rng.randrange(100)),
            "    logger.debug(\"%s done in %%s ms\", elapsed)" % f,
            "    return result", ""]


def js_lines(rng):
    f = ident(rng, "camel")
    return ["export async function %s(%s) {" % (f, ident(rng, "camel")),
            "  const %s = await fetch(`/api/%s/${id}`);" % (ident(rng, "camel"), rng.choice(WORDS)),
            "  if (!res.ok) throw new Error('failed to load %s');" % rng.choice(WORDS),
            "  return res.json();", "}", ""]


def go_lines(rng):
    f = ident(rng, "pascal")
    return ["func %s(ctx context.Context, id string) (*%s, error) {" % (f, ident(rng, "pascal")),
            "\trow := db.QueryRowContext(ctx, \"SELECT id FROM %s WHERE id = $1\", id)" % rng.choice(WORDS),
            "\tif err := row.Scan(&id); err != nil {", "\t\treturn nil, fmt.Errorf(\"%s: %%w\", err)" % f,
            "\t}", "\treturn nil, nil", "}", ""]


def java_lines(rng):
    f = ident(rng, "camel")
    return ["    public %s %s(String id) {" % (ident(rng, "pascal"), f),
            "        Objects.requireNonNull(id, \"id\");",
            "        return repository.findById(id).orElseThrow();", "    }", ""]


def rb_lines(rng):
    return ["  def %s(%s)" % (ident(rng), ident(rng)),
            "    @%s ||= %s.where(active: true).limit(%d)" % (rng.choice(WORDS), ident(rng, "pascal"), rng.randrange(50)),
            "  end", ""]


def yaml_lines(rng):
    return ["%s:" % rng.choice(WORDS), "  enabled: %s" % rng.choice(["true", "false"]),
            "  replicas: %d" % rng.randrange(1, 9), "  image: registry.example.com/%s:%d.%d" % (rng.choice(WORDS), rng.randrange(9), rng.randrange(30)),
            "  timeout_seconds: %d" % rng.randrange(5, 300)]


def env_lines(rng):
    return ["%s_%s=%s" % (rng.choice(WORDS).upper(), rng.choice(["HOST", "PORT", "MODE", "LEVEL"]),
                          rng.choice(["localhost", "8080", "production", "debug", "info"]))]


def sh_lines(rng):
    return ["if [ -f \"$%s\" ]; then" % rng.choice(WORDS).upper(), "  make %s" % rng.choice(WORDS),
            "fi", "echo \"building %s\"" % rng.choice(WORDS)]


def tf_lines(rng):
    n = ident(rng)
    return ['resource "aws_s3_bucket" "%s" {' % n, '  bucket = "%s-%d"' % (n.replace("_", "-"), rng.randrange(999)),
            '  tags = { team = "%s" }' % rng.choice(WORDS), "}", ""]


def md_lines(rng):
    return ["## %s %s" % (rng.choice(WORDS).capitalize(), rng.choice(WORDS)),
            "The %s service reads the %s from the %s and writes a %s." % tuple(rng.choice(WORDS) for _ in range(4)), ""]


LANGS = {
    ".py": (py_lines, "{name} = \"{t}\"", "#"),
    ".js": (js_lines, "const {cname} = '{t}';", "//"),
    ".ts": (js_lines, "export const {cname}: string = \"{t}\";", "//"),
    ".go": (go_lines, "const {cname} = \"{t}\"", "//"),
    ".java": (java_lines, "    private static final String {uname} = \"{t}\";", "//"),
    ".rb": (rb_lines, "{uname} = '{t}'", "#"),
    ".yaml": (yaml_lines, "{name}: \"{t}\"", "#"),
    ".env": (env_lines, "{uname}={t}", "#"),
    ".sh": (sh_lines, "export {uname}=\"{t}\"", "#"),
    ".tf": (tf_lines, "  {name} = \"{t}\"", "#"),
    ".md": (md_lines, "    {uname}={t}", ""),
}

# Names for the variable holding a token: neutral ones, so a finding comes
# from the token's own format, plus credential-sounding ones.
NAMES = ["credential", "service_credential", "upstream_key", "deploy_token",
         "api_token", "integration_secret", "auth_value", "conn"]


def secret_lines(rng, rule, ext):
    """Lines planting one secret of rule, and the offset of its line."""
    t = T.gen(rule, rng)
    if rule in T.CONTEXT:
        tmpl = rng.choice(T.CONTEXT[rule])
        tmpl = tmpl.replace("{{", "\x00").replace("}}", "\x01")
        text = tmpl.replace("{t}", t).replace("{u}", T.uuid(rng))
        text = text.replace("\x00", "{").replace("\x01", "}")
    elif "\n" in t or t.startswith("-----BEGIN"):
        text = t if ext not in (".py", ".js", ".ts", ".rb") else \
            ("KEY = \"\"\"\n%s\n\"\"\"" % t if ext == ".py" else "const key = `\n%s\n`;" % t)
    else:
        name = rng.choice(NAMES)
        cname = "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_")))
        text = LANGS[ext][1].format(name=name, cname=cname, uname=name.upper(), t=t)
    lines = text.split("\n")
    # The label is the line where the secret starts.
    first = t.split("\n")[0]
    for i, l in enumerate(lines):
        if first in l:
            return lines, i
    return lines, 0


# ---- hard negatives -------------------------------------------------------
def hard_negatives(rng, ext):
    h = T.rand
    name = rng.choice(["api_key", "token", "password", "secret", "client_secret", "auth_token"])
    out = [
        '%s = "${%s}"' % (name, name.upper()),
        '%s = os.environ["%s"]' % (name, name.upper()),
        'const %s = process.env.%s;' % (name, name.upper()),
        '%s: "YOUR_%s_HERE"' % (name, name.upper()),
        '%s = "<%s>"' % (name, name.replace("_", "-")),
        '%s = "changeme"' % name,
        '%s = ""' % name,
        'password: ${{ secrets.DB_PASSWORD }}',
        'commit: %s' % h(rng, "H", 40),
        'sha256 = "%s"' % h(rng, "H", 64),
        'checksum: %s' % h(rng, "H", 32),
        'request_id = "%s"' % T.uuid(rng),
        'token_id = "%s"' % T.uuid(rng),
        '      "integrity": "sha512-%s==",' % h(rng, "B", 86),
        'github.com/%s/%s v1.%d.0 h1:%s=' % (rng.choice(WORDS), rng.choice(WORDS), rng.randrange(20), h(rng, "B", 43)),
        'background: url("data:image/png;base64,%s");' % h(rng, "B", 400),
        'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
        'url = "https://example.com/api?page=2&sort=desc"',
        'DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app',
        'git clone git@github.com:%s/%s.git' % (rng.choice(WORDS), rng.choice(WORDS)),
        'passwordField = "input-password"',
        'tokenizer = "%s"' % h(rng, "L", 12),
        'version: %d.%d.%d' % (rng.randrange(5), rng.randrange(20), rng.randrange(50)),
        '!function(e){var t={};function n(r){if(t[r])return t[r].exports;var o=t[r]={i:r,l:!1,exports:{}};return e[r].call(o.exports,o,o.exports,n),o.l=!0,o.exports}n.m=e,n.c=t,n.d=function(e,t,r){n.o(e,t)||Object.defineProperty(e,t,{enumerable:!0,get:r})},n.p="%s"}' % h(rng, "L", 8),
        'const id = "%s";' % h(rng, "A", 24),
        'nonce = "%s"' % h(rng, "H", 16),
        'session_timeout = 3600',
        'secret_name = "%s-%s-credentials"' % (rng.choice(WORDS), rng.choice(WORDS)),
    ]
    return rng.sample(out, rng.randrange(2, 6))


def special_file(rng, kind):
    """Whole files that are hard negatives: lockfiles, minified JS, go.sum."""
    h = T.rand
    if kind == "package-lock.json":
        deps = {}
        for _ in range(rng.randrange(20, 60)):
            n = rng.choice(WORDS) + "-" + rng.choice(WORDS)
            deps["node_modules/" + n] = {
                "version": "%d.%d.%d" % (rng.randrange(9), rng.randrange(20), rng.randrange(30)),
                "resolved": "https://registry.npmjs.org/%s/-/%s-1.0.0.tgz" % (n, n),
                "integrity": "sha512-" + h(rng, "B", 86) + "=="}
        return json.dumps({"name": "app", "lockfileVersion": 3, "packages": deps}, indent=2)
    if kind == "go.sum":
        return "\n".join("github.com/%s/%s v0.%d.0 h1:%s=" % (rng.choice(WORDS), rng.choice(WORDS), rng.randrange(30), h(rng, "B", 43))
                         for _ in range(rng.randrange(20, 80)))
    if kind == "app.min.js":
        parts = []
        for _ in range(rng.randrange(50, 200)):
            parts.append("function %s(e,t){return e.%s(t)||\"%s\"}" % (h(rng, "AL", 2), rng.choice(WORDS), h(rng, "A", rng.randrange(8, 40))))
        return ";".join(parts)
    if kind == "logo.svg":
        return '<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/png;base64,%s"/></svg>' % h(rng, "B", 4000)
    raise ValueError(kind)


# Rules that only apply to some files get a file of their own.
PATH_RULES = {"docker-config-auth": ".docker/config.json"}


def path_rule_file(rng, root, d, i, rule):
    path = os.path.join(d, "%d" % i, PATH_RULES[rule])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = '{\n  "auths": {\n    "registry.example.io": {\n      "auth": "%s"\n    }\n  }\n}\n' % T.gen(rule, rng)
    with open(path, "w") as f:
        f.write(body)
    return {"path": os.path.relpath(path, root), "line": 4, "rule": rule}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--target-mb", type=float, default=0,
                    help="pad files with filler until the tree reaches this size")
    ap.add_argument("--secret-rate", type=float, default=0.3)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rules = sorted(T.SHAPES)
    exts = sorted(LANGS)
    labels = []
    total = 0
    target = int(a.target_mb * 1e6)
    per_file = max(2000, target // max(1, a.files)) if target else 0
    os.makedirs(a.out, exist_ok=True)
    rule_cycle = []
    for i in range(a.files):
        d = os.path.join(a.out, rng.choice(WORDS), rng.choice(WORDS))
        os.makedirs(d, exist_ok=True)
        if i % 25 == 24:
            kind = rng.choice(["package-lock.json", "go.sum", "app.min.js", "logo.svg"])
            path = os.path.join(d, "%d-%s" % (i, kind))
            body = special_file(rng, kind)
            with open(path, "w") as f:
                f.write(body + "\n")
            total += len(body)
            continue
        ext = rng.choice(exts)
        path = os.path.join(d, "%s_%d%s" % (ident(rng), i, ext))
        lines = []
        planted = []
        n_blocks = rng.randrange(3, 12)
        for b in range(n_blocks):
            lines += LANGS[ext][0](rng)
            if rng.random() < 0.35:
                lines += hard_negatives(rng, ext)
            if rng.random() < a.secret_rate / n_blocks * 2:
                if not rule_cycle:
                    rule_cycle = rules[:]
                    rng.shuffle(rule_cycle)
                rule = rule_cycle.pop()
                if rule in PATH_RULES:
                    labels.append(path_rule_file(rng, a.out, d, i, rule))
                    continue
                sl, off = secret_lines(rng, rule, ext)
                planted.append((len(lines) + off + 1, rule))
                lines += sl
        while per_file and sum(len(l) + 1 for l in lines) < per_file:
            lines += LANGS[ext][0](rng)
        body = "\n".join(lines) + "\n"
        with open(path, "w") as f:
            f.write(body)
        total += len(body)
        rel = os.path.relpath(path, a.out)
        for ln, rule in planted:
            labels.append({"path": rel, "line": ln, "rule": rule})
    with open(os.path.join(a.out, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    print("wrote %d files, %.1f MB, %d secrets" % (a.files, total / 1e6, len(labels)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
