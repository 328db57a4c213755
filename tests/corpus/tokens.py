"""Synthetic credentials in their providers' real formats.

SHAPES maps a rule id to the shape of the value it finds: literal strings
and (charset, length) pieces.  CONTEXT gives, for rules that need one, the
text around the value that makes it recognisable (an AWS secret key is 40
base64 characters; only its variable name says what it is).  Everything is
random: no value here was ever a live credential.
"""

import base64
import json
import random
import string

CS = {
    "A": string.ascii_letters + string.digits,
    "H": "0123456789abcdef",
    "HU": "0123456789ABCDEF",
    "U": string.ascii_uppercase + string.digits,
    "L": string.ascii_lowercase + string.digits,
    "B": string.ascii_letters + string.digits + "+/",
    "W": string.ascii_letters + string.digits + "_-",
    "D": string.digits,
    "AL": string.ascii_letters,
    "UL": string.ascii_uppercase,
    "B32": string.ascii_uppercase + "234567",
    "BECH": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
    "PW": string.ascii_letters + string.digits + "!@#%^&*-_+=",
    "UP": string.ascii_letters + string.digits + "-_.~!*",
}


def rand(rng, cs, n):
    alphabet = CS[cs]
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        # A synthetic token must look random: mixed classes, no long runs.
        if n < 8 or len(set(s)) > min(n, len(alphabet)) // 3:
            return s


def uuid(rng):
    h = rand(rng, "H", 32)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16],
                                  rng.choice("89ab"), h[17:20], h[20:32])


def pem(rng, label, nlines=8):
    body = "\n".join(rand(rng, "B", 64) for _ in range(nlines))
    return "-----BEGIN %s-----\n%s\n%s==\n-----END %s-----" % (
        label, body, rand(rng, "B", 22), label)


def jwt(rng):
    def b64(obj):
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    head = b64({"alg": "HS256", "typ": "JWT"})
    body = b64({"sub": rand(rng, "D", 8), "name": rand(rng, "AL", 7),
                "iat": 1700000000 + rng.randrange(10 ** 7)})
    return "%s.%s.%s" % (head, body, rand(rng, "W", 43))


def onepassword_sa(rng):
    raw = json.dumps({"signInAddress": "my.1password.com",
                      "userAuth": {"method": "SRPg-4096",
                                   "alg": "PBES2g-HS256",
                                   "iterations": 650000,
                                   "salt": rand(rng, "W", 22)},
                      "email": rand(rng, "L", 12) + "@1passwordserviceaccounts.com",
                      "srpX": rand(rng, "H", 64),
                      "muk": {"alg": "A256GCM", "ext": True,
                              "k": rand(rng, "W", 43), "kty": "oct",
                              "kid": "mp"},
                      "secretKey": "A3-" + rand(rng, "U", 6),
                      "throttleSecret": {"seed": rand(rng, "H", 64),
                                         "deviceUuid": rand(rng, "L", 26)},
                      "deviceUuid": rand(rng, "L", 26)}).encode()
    return "ops_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sentry_org(rng):
    raw = json.dumps({"iat": 1700000000.5, "url": "https://sentry.io",
                      "region_url": "https://us.sentry.io",
                      "org": rand(rng, "L", 8)}).encode()
    return "sntrys_" + base64.b64encode(raw).decode().rstrip("=") + "_" + \
        rand(rng, "W", 43)


def gcp_sa_json(rng):
    key = pem(rng, "PRIVATE KEY", 12).replace("\n", "\\n") + "\\n"
    return key


def azure_key(rng):
    return rand(rng, "B", 86) + "=="


def b64_of(rng, text):
    return base64.b64encode(text.encode()).decode()


# Shapes: a list of literal strings, (charset, length) pairs and callables.
SHAPES = {
    # cloud
    "aws-access-key-id": [lambda r: r.choice(["AKIA", "ASIA"]), ("B32", 16)],
    "aws-secret-access-key": [("B", 40)],
    "aws-session-token": [("B", 40), "//////////", ("B", 250), "=="],
    "aws-mws-key": ["amzn.mws.", uuid],
    "aws-bedrock-api-key": ["ABSK", ("B", 108)],
    "gcp-api-key": ["AIza", ("W", 35)],
    "gcp-service-account-key": [gcp_sa_json],
    "gcp-oauth-client-secret": ["GOCSPX-", ("W", 28)],
    "google-oauth-access-token": ["ya29.", ("W", 120)],
    "google-oauth-refresh-token": ["1//0", ("W", 99)],
    "azure-storage-connection-string": [azure_key],
    "azure-cosmosdb-key": [azure_key],
    "azure-servicebus-connection-string": [("B", 43), "="],
    "azure-sas-token": [("B", 43), "%3D"],
    "azure-client-secret": [("A", 3), ("D", 1), "Q~", ("W", 34)],
    "azure-devops-pat": [("L", 52)],
    "azure-openai-key": [("H", 32)],
    "digitalocean-pat": ["dop_v1_", ("H", 64)],
    "digitalocean-oauth-token": ["doo_v1_", ("H", 64)],
    "digitalocean-refresh-token": ["dor_v1_", ("H", 64)],
    "alibaba-access-key-id": ["LTAI", ("A", 20)],
    "alibaba-secret-key": [("A", 30)],
    "ibm-cloud-api-key": [("W", 44)],
    "oracle-oci-config-passphrase": [("PW", 14)],
    "linode-token": [("H", 64)],
    "scaleway-secret-key": [uuid],
    "hetzner-token": [("A", 64)],
    "vultr-api-key": [("U", 36)],
    # source hosting
    "github-pat": ["ghp_", ("A", 36)],
    "github-fine-grained-pat": ["github_pat_", ("A", 22), "_", ("A", 59)],
    "github-oauth-token": ["gho_", ("A", 36)],
    "github-app-installation-token": ["ghs_", ("A", 36)],
    "github-user-to-server-token": ["ghu_", ("A", 36)],
    "github-refresh-token": ["ghr_", ("A", 76)],
    "gitlab-pat": ["glpat-", ("W", 20)],
    "gitlab-runner-token": ["glrt-", ("W", 20)],
    "gitlab-runner-registration-token": ["GR1348941", ("W", 20)],
    "gitlab-deploy-token": ["gldt-", ("W", 20)],
    "gitlab-pipeline-trigger-token": ["glptt-", ("H", 40)],
    "gitlab-feed-token": ["glft-", ("W", 20)],
    "gitlab-oauth-app-secret": ["gloas-", ("H", 64)],
    "gitlab-ci-job-token": ["glcbt-", ("H", 2), "_", ("W", 20)],
    "gitlab-incoming-mail-token": ["glimt-", ("L", 25)],
    "gitlab-kubernetes-agent-token": ["glagent-", ("W", 50)],
    "gitlab-scim-token": ["glsoat-", ("W", 20)],
    "bitbucket-app-password": ["ATBB", ("A", 24), ("HU", 8)],
    "bitbucket-client-secret": [("W", 32)],
    "atlassian-api-token": ["ATATT3", ("W", 178), ("HU", 8)],
    "atlassian-legacy-token": [("A", 24)],
    "gitea-token": [("H", 40)],
    "sourcegraph-token": ["sgp_", ("H", 16), "_", ("H", 40)],
    "huggingface-token": ["hf_", ("AL", 34)],
    "huggingface-org-token": ["api_org_", ("AL", 34)],
    # registries
    "npm-access-token": ["npm_", ("A", 36)],
    "npmrc-auth-token": [uuid],
    "pypi-token": ["pypi-AgEIcHlwaS5vcmc", ("W", 70)],
    "pypi-test-token": ["pypi-AgENdGVzdC5weXBpLm9yZw", ("W", 70)],
    "rubygems-api-key": ["rubygems_", ("H", 48)],
    "nuget-api-key": ["oy2", ("L", 43)],
    "dockerhub-pat": ["dckr_pat_", ("W", 27)],
    "docker-config-auth": [lambda r: b64_of(r, "deploy:" + rand(r, "A", 20))],
    "artifactory-api-key": ["AKCp", ("A", 69)],
    "artifactory-reference-token": ["cmVmdGtuOjAxOj", ("A", 50)],
    "crates-io-token": ["cio", ("A", 32)],
    "clojars-token": ["CLOJARS_", ("L", 60)],
    "hex-pm-api-key": [("H", 32)],
    "pub-dev-token": [("W", 40)],
    "cocoapods-trunk-token": [("H", 32)],
    "packagist-token": ["packagist_", lambda r: r.choice(["uut", "ort"]),
                        "_", ("H", 68)],
    # AI
    "openai-api-key": ["sk-", ("A", 20), "T3BlbkFJ", ("A", 20)],
    "openai-project-key": ["sk-proj-", ("W", 74), "T3BlbkFJ", ("W", 74)],
    "openai-service-account-key": [lambda r: r.choice(["sk-svcacct-", "sk-admin-"]),
                                   ("W", 74), "T3BlbkFJ", ("W", 74)],
    "anthropic-api-key": ["sk-ant-api03-", ("W", 93), "AA"],
    "anthropic-admin-key": ["sk-ant-admin01-", ("W", 93), "AA"],
    "cohere-api-key": [("A", 40)],
    "replicate-api-token": ["r8_", ("A", 37)],
    "groq-api-key": ["gsk_", ("A", 52)],
    "mistral-api-key": [("A", 32)],
    "perplexity-api-key": ["pplx-", ("A", 48)],
    "xai-api-key": ["xai-", ("A", 80)],
    "langsmith-api-key": ["lsv2_", lambda r: r.choice(["pt", "sk"]), "_",
                          ("H", 32), "_", ("H", 10)],
    "deepseek-api-key": ["sk-", ("H", 32)],
    "together-api-key": [("H", 64)],
    "pinecone-api-key": ["pcsk_", ("A", 6), "_", ("A", 63)],
    "elevenlabs-api-key": ["sk_", ("H", 48)],
    # messaging
    "slack-bot-token": ["xoxb-", ("D", 12), "-", ("D", 13), "-", ("A", 24)],
    "slack-user-token": ["xoxp-", ("D", 12), "-", ("D", 12), "-", ("D", 13),
                         "-", ("H", 32)],
    "slack-app-token": ["xapp-1-A", ("U", 10), "-", ("D", 13), "-", ("H", 64)],
    "slack-config-token": ["xoxe.xoxp-1-", ("U", 164)],
    "slack-webhook-url": ["T", ("U", 10), "/B", ("U", 10), "/", ("A", 24)],
    "slack-legacy-token": ["xoxs-", ("D", 12), "-", ("D", 12), "-", ("D", 12),
                           "-", ("H", 64)],
    "discord-bot-token": [lambda r: r.choice("MN"), ("A", 23), ".", ("W", 6),
                          ".", ("W", 38)],
    "discord-webhook-url": [("W", 68)],
    "telegram-bot-token": [("D", 10), ":AA", ("W", 33)],
    "twilio-api-key": ["SK", ("H", 32)],
    "twilio-auth-token": [("H", 32)],
    "sendgrid-api-key": ["SG.", ("W", 22), ".", ("W", 43)],
    "mailgun-api-key": ["key-", ("H", 32)],
    "mailgun-private-key": [("H", 32), "-", ("H", 8), "-", ("H", 8)],
    "mailchimp-api-key": [("H", 32), "-us", lambda r: str(r.randrange(1, 21))],
    "mandrill-api-key": ["md-", ("W", 22)],
    "postmark-server-token": [uuid],
    "brevo-api-key": ["xkeysib-", ("H", 64), "-", ("A", 16)],
    "teams-webhook-url": [("H", 32)],
    "zendesk-api-token": [("A", 40)],
    "intercom-access-token": ["dG9rOj", ("A", 54), "="],
    "pusher-app-secret": [("H", 20)],
    "vonage-api-secret": [("A", 16)],
    # payments
    "stripe-live-secret-key": ["sk_live_", ("A", 99)],
    "stripe-restricted-key": ["rk_live_", ("A", 99)],
    "stripe-test-secret-key": ["sk_test_", ("A", 99)],
    "stripe-webhook-secret": ["whsec_", ("A", 32)],
    "square-access-token": ["EAAA", ("W", 60)],
    "square-legacy-access-token": ["sq0atp-", ("W", 22)],
    "square-oauth-secret": ["sq0csp-", ("W", 43)],
    "braintree-access-token": ["access_token$",
                               lambda r: r.choice(["production", "sandbox"]),
                               "$", ("L", 16), "$", ("H", 32)],
    "paypal-client-secret": [("W", 80)],
    "shopify-access-token": ["shpat_", ("H", 32)],
    "shopify-custom-app-token": ["shpca_", ("H", 32)],
    "shopify-private-app-token": ["shppa_", ("H", 32)],
    "shopify-shared-secret": ["shpss_", ("H", 32)],
    "plaid-access-token": ["access-", lambda r: r.choice(["sandbox", "production", "development"]), "-", uuid],
    "flutterwave-secret-key": ["FLWSECK-", ("H", 32), "-X"],
    "razorpay-key-secret": [("A", 24)],
    "coinbase-api-secret": [("A", 32)],
    "adyen-api-key": ["AQE", ("W", 8), ".", ("W", 60)],
    # productivity and dev tools
    "linear-api-key": ["lin_api_", ("A", 40)],
    "notion-integration-token": ["secret_", ("A", 43)],
    "notion-token": ["ntn_", ("D", 11), ("A", 35)],
    "airtable-pat": ["pat", ("A", 14), ".", ("H", 64)],
    "airtable-api-key": ["key", ("A", 14)],
    "asana-pat": ["2/", ("D", 16), "/", ("D", 16), ":", ("H", 32)],
    "clickup-api-token": ["pk_", ("D", 8), "_", ("U", 32)],
    "figma-pat": ["figd_", ("W", 40)],
    "typeform-pat": ["tfp_", ("W", 44), "_", ("W", 14)],
    "dropbox-access-token": ["sl.", ("W", 135)],
    "trello-api-token": ["ATTA", ("H", 64)],
    "postman-api-key": ["PMAK-", ("H", 24), "-", ("H", 34)],
    "contentful-token": ["CFPAT-", ("W", 43)],
    "mapbox-secret-token": ["sk.eyJ1Ijoi", ("W", 60), ".", ("W", 22)],
    "okta-api-token": ["00", ("W", 40)],
    "auth0-client-secret": [("W", 64)],
    "facebook-access-token": ["EAACEdEose0cBA", ("A", 100)],
    "twitter-bearer-token": ["AAAAAAAAAAAAAAAAAAAAA", ("A", 46), "%3D", ("A", 50)],
    "shippo-api-token": ["shippo_", lambda r: r.choice(["live", "test"]), "_",
                         ("H", 40)],
    "easypost-api-key": ["EZAK", ("L", 54)],
    "duffel-api-token": ["duffel_", lambda r: r.choice(["live", "test"]), "_",
                         ("W", 43)],
    "frameio-api-token": ["fio-u-", ("W", 64)],
    "readme-api-key": ["rdme_", ("L", 70)],
    "prefect-api-key": ["pnu_", ("A", 36)],
    # observability
    "datadog-api-key": [("H", 32)],
    "datadog-app-key": [("H", 40)],
    "newrelic-user-api-key": ["NRAK-", ("U", 27)],
    "newrelic-insert-key": ["NRII-", ("W", 32)],
    "newrelic-browser-key": ["NRJS-", ("H", 19)],
    "newrelic-license-key": [("H", 36), "NRAL"],
    "sentry-org-token": [sentry_org],
    "sentry-user-token": ["sntryu_", ("H", 64)],
    "pagerduty-api-key": ["u+", ("W", 18)],
    "grafana-cloud-token": ["glc_", ("B", 100), "="],
    "grafana-service-account-token": ["glsa_", ("A", 32), "_", ("H", 8)],
    "grafana-api-key": ["eyJrIjoi", ("A", 70), "=="],
    "dynatrace-token": ["dt0c01.", ("U", 24), ".", ("U", 64)],
    "honeycomb-api-key": ["hcaik_", ("L", 58)],
    "splunk-hec-token": [uuid],
    "rollbar-access-token": [("H", 32)],
    "bugsnag-api-key": [("H", 32)],
    # platforms
    "heroku-api-key": ["HRKU-", ("W", 60)],
    "heroku-legacy-api-key": [uuid],
    "vercel-token": [("A", 24)],
    "netlify-token": ["nfp_", ("A", 36)],
    "cloudflare-api-token": [("W", 40)],
    "cloudflare-global-api-key": [("H", 37)],
    "cloudflare-origin-ca-key": ["v1.0-", ("H", 24), "-", ("H", 146)],
    "fastly-api-token": [("W", 32)],
    "doppler-token": ["dp.", lambda r: r.choice(["pt", "st", "sa", "ct"]), ".",
                      ("A", 43)],
    "vault-service-token": ["hvs.", ("W", 91)],
    "vault-batch-token": ["hvb.", ("W", 138)],
    "vault-legacy-token": ["s.", ("A", 24)],
    "terraform-cloud-token": [("A", 14), ".atlasv1.", ("W", 67)],
    "onepassword-service-account-token": [onepassword_sa],
    "onepassword-secret-key": ["A3-", ("U", 6), "-", ("U", 6), "-", ("U", 5),
                               "-", ("U", 5), "-", ("U", 5), "-", ("U", 5)],
    "onepassword-connect-token": [jwt],
    "age-secret-key": ["AGE-SECRET-KEY-1", ("BECH", 58)],
    "flyio-token": ["FlyV1 fm2_", ("B", 100)],
    "render-api-key": ["rnd_", ("A", 32)],
    "supabase-access-token": ["sbp_", ("H", 40)],
    "supabase-secret-key": ["sb_secret_", ("W", 31)],
    "pulumi-access-token": ["pul-", ("H", 40)],
    "planetscale-token": ["pscale_tkn_", ("W", 43)],
    "planetscale-password": ["pscale_pw_", ("W", 43)],
    "buildkite-token": ["bkua_", ("H", 40)],
    "circleci-token": ["CCIPAT_", ("A", 22), "_", ("H", 40)],
    "snyk-token": [uuid],
    "launchdarkly-token": ["api-", uuid],
    "codecov-token": [uuid],
    "sonarqube-token": ["squ_", ("H", 40)],
    "ngrok-token": [("D", 1), ("A", 26), "_", ("A", 21)],
    "tailscale-key": ["tskey-", lambda r: r.choice(["auth", "api", "client"]),
                      "-k", ("A", 10), "CNTRL-", ("A", 33)],
    "databricks-token": ["dapi", ("H", 32)],
    "snowflake-password": [("UP", 14)],
    "confluent-api-secret": [("B", 64)],
    "algolia-admin-key": [("H", 32)],
    "firebase-cloud-messaging-key": ["AAAA", ("W", 7), ":APA91b", ("W", 134)],
    "yandex-api-key": ["AQVN", ("W", 35)],
    "zoom-jwt-secret": [("A", 36)],
    # keys and generic formats
    "private-key-rsa": [lambda r: pem(r, "RSA PRIVATE KEY")],
    "private-key-ec": [lambda r: pem(r, "EC PRIVATE KEY", 3)],
    "private-key-dsa": [lambda r: pem(r, "DSA PRIVATE KEY", 6)],
    "private-key-openssh": [lambda r: pem(r, "OPENSSH PRIVATE KEY", 6)],
    "private-key-pgp": [lambda r: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" +
                        "\n".join(rand(r, "B", 64) for _ in range(8)) +
                        "\n=" + rand(r, "B", 4) +
                        "\n-----END PGP PRIVATE KEY BLOCK-----"],
    "private-key-pkcs8": [lambda r: pem(r, "PRIVATE KEY")],
    "private-key-pkcs8-encrypted": [lambda r: pem(r, "ENCRYPTED PRIVATE KEY")],
    "putty-private-key": [("B", 64)],
    "jwt": [jwt],
    "postgres-connection-string": [("UP", 16)],
    "mysql-connection-string": [("UP", 16)],
    "mongodb-connection-string": [("UP", 16)],
    "redis-connection-string": [("UP", 16)],
    "amqp-connection-string": [("UP", 16)],
    "sqlserver-connection-string": [("PW", 16)],
    "jdbc-password": [("UP", 16)],
    "credentials-in-url": [("UP", 16)],
    "netrc-password": [("PW", 16)],
    "htpasswd-plain": [("PW", 14)],
    "authorization-basic": [lambda r: b64_of(r, "admin:" + rand(r, "PW", 16))],
    "authorization-bearer": [("W", 40)],
    "generic-password": [("PW", 16)],
    "generic-secret": [("A", 32)],
    "generic-api-key": [("A", 32)],
    "generic-token": [("A", 40)],
    "generic-client-secret": [("W", 34)],
    "generic-env-secret": [("A", 32)],
    "generic-yaml-secret": [("A", 32)],
}


def gen(rule, rng):
    """A fresh synthetic value for rule."""
    out = []
    for part in SHAPES[rule]:
        if isinstance(part, str):
            out.append(part)
        elif callable(part):
            out.append(part(rng))
        else:
            out.append(rand(rng, part[0], part[1]))
    return "".join(out)


# Text around a value that identifies it, for rules that need context.
# {t} is the value; {u} a fresh UUID when a template needs an id beside it.
CONTEXT = {
    "aws-secret-access-key": ['aws_secret_access_key = {t}',
                              'AWS_SECRET_ACCESS_KEY="{t}"',
                              '"SecretAccessKey": "{t}"'],
    "aws-session-token": ['aws_session_token = {t}',
                          'AWS_SESSION_TOKEN="{t}"'],
    "gcp-service-account-key": ['  "private_key": "{t}",'],
    "azure-storage-connection-string": [
        'DefaultEndpointsProtocol=https;AccountName=acmestore01;AccountKey={t};EndpointSuffix=core.windows.net'],
    "azure-cosmosdb-key": [
        'AccountEndpoint=https://acme-db.documents.azure.com:443/;AccountKey={t};'],
    "azure-servicebus-connection-string": [
        'Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={t}'],
    "azure-sas-token": [
        'https://acmestore01.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig={t}'],
    "azure-devops-pat": ['AZURE_DEVOPS_PAT={t}', 'azure_devops_token: "{t}"'],
    "azure-openai-key": ['AZURE_OPENAI_API_KEY={t}', 'azure_openai_key = "{t}"'],
    "alibaba-secret-key": ['ALIBABA_CLOUD_ACCESS_KEY_SECRET={t}',
                           'alibaba_secret_key = "{t}"'],
    "ibm-cloud-api-key": ['IBMCLOUD_API_KEY={t}', 'ibm_cloud_apikey: "{t}"'],
    "oracle-oci-config-passphrase": ['key_file=~/.oci/oci_api_key.pem\npass_phrase={t}'],
    "linode-token": ['LINODE_TOKEN={t}', 'linode_api_token = "{t}"'],
    "scaleway-secret-key": ['SCW_SECRET_KEY={t}', 'scaleway_secret_key = "{t}"'],
    "hetzner-token": ['HCLOUD_TOKEN={t}', 'hcloud_token = "{t}"'],
    "vultr-api-key": ['VULTR_API_KEY={t}', 'vultr_api_key: "{t}"'],
    "bitbucket-client-secret": ['BITBUCKET_CLIENT_SECRET={t}',
                                'bitbucket_secret: "{t}"'],
    "atlassian-legacy-token": ['JIRA_API_TOKEN={t}', 'confluence_token = "{t}"'],
    "gitea-token": ['GITEA_TOKEN={t}', 'gitea_access_token: "{t}"'],
    "npmrc-auth-token": ['//registry.npmjs.org/:_authToken={t}'],
    "docker-config-auth": ['{{"auths": {{"registry.example.io": {{"auth": "{t}"}}}}}}'],
    "hex-pm-api-key": ['HEX_API_KEY={t}'],
    "pub-dev-token": ['PUB_TOKEN={t}', 'pub_dev_token: "{t}"'],
    "cocoapods-trunk-token": ['COCOAPODS_TRUNK_TOKEN={t}'],
    "cohere-api-key": ['COHERE_API_KEY={t}', 'cohere_api_key = "{t}"'],
    "mistral-api-key": ['MISTRAL_API_KEY={t}', 'mistral_api_key = "{t}"'],
    "deepseek-api-key": ['DEEPSEEK_API_KEY={t}', 'deepseek_api_key = "{t}"'],
    "together-api-key": ['TOGETHER_API_KEY={t}', 'together_api_key = "{t}"'],
    "slack-webhook-url": ['SLACK_WEBHOOK=https://hooks.slack.com/services/{t}'],
    "discord-webhook-url": [
        'DISCORD_WEBHOOK=https://discord.com/api/webhooks/1234567890123456789/{t}'],
    "twilio-auth-token": ['TWILIO_AUTH_TOKEN={t}', 'twilio_auth_token = "{t}"'],
    "mailgun-private-key": ['MAILGUN_API_KEY={t}'],
    "postmark-server-token": ['POSTMARK_SERVER_TOKEN={t}',
                              'postmark_api_token: "{t}"'],
    "teams-webhook-url": [
        'https://acme.webhook.office.com/webhookb2/{u}@{u}/IncomingWebhook/{t}/{u}'],
    "zendesk-api-token": ['ZENDESK_API_TOKEN={t}', 'zendesk_token = "{t}"'],
    "pusher-app-secret": ['PUSHER_APP_SECRET={t}', 'pusher_secret: "{t}"'],
    "vonage-api-secret": ['VONAGE_API_SECRET={t}', 'nexmo_api_secret = "{t}"'],
    "paypal-client-secret": ['PAYPAL_CLIENT_SECRET={t}',
                             'paypal_secret: "{t}"'],
    "razorpay-key-secret": ['RAZORPAY_KEY_SECRET={t}',
                            'razorpay_secret = "{t}"'],
    "coinbase-api-secret": ['COINBASE_API_SECRET={t}',
                            'coinbase_secret = "{t}"'],
    "airtable-api-key": ['AIRTABLE_API_KEY={t}', 'airtable_key = "{t}"'],
    "okta-api-token": ['OKTA_API_TOKEN={t}', 'okta_token: "{t}"'],
    "auth0-client-secret": ['AUTH0_CLIENT_SECRET={t}',
                            'auth0_client_secret = "{t}"'],
    "datadog-api-key": ['DD_API_KEY={t}', 'datadog_api_key = "{t}"'],
    "datadog-app-key": ['DD_APP_KEY={t}', 'datadog_application_key: "{t}"'],
    "pagerduty-api-key": ['PAGERDUTY_TOKEN={t}', 'pagerduty_api_key = "{t}"'],
    "splunk-hec-token": ['SPLUNK_HEC_TOKEN={t}',
                         'Authorization: Splunk {t}'],
    "rollbar-access-token": ['ROLLBAR_ACCESS_TOKEN={t}',
                             'rollbar_token: "{t}"'],
    "bugsnag-api-key": ['BUGSNAG_API_KEY={t}', 'bugsnag_api_key = "{t}"'],
    "heroku-legacy-api-key": ['HEROKU_API_KEY={t}', 'heroku_api_key: "{t}"'],
    "vercel-token": ['VERCEL_TOKEN={t}', 'vercel_token: "{t}"'],
    "cloudflare-api-token": ['CLOUDFLARE_API_TOKEN={t}',
                             'cloudflare_token = "{t}"'],
    "cloudflare-global-api-key": ['CLOUDFLARE_API_KEY={t}',
                                  'cf_global_api_key: "{t}"'],
    "fastly-api-token": ['FASTLY_API_TOKEN={t}', 'fastly_key = "{t}"'],
    "vault-legacy-token": ['VAULT_TOKEN={t}', 'vault_token: "{t}"'],
    "snyk-token": ['SNYK_TOKEN={t}', 'snyk_api_token = "{t}"'],
    "codecov-token": ['CODECOV_TOKEN={t}', 'codecov_token: "{t}"'],
    "ngrok-token": ['NGROK_AUTHTOKEN={t}', 'authtoken: {t}'],
    "snowflake-password": ['SNOWFLAKE_PASSWORD={t}',
                           'snowflake_password = "{t}"'],
    "confluent-api-secret": ['CONFLUENT_CLOUD_API_SECRET={t}',
                             'confluent_api_secret = "{t}"'],
    "algolia-admin-key": ['ALGOLIA_ADMIN_KEY={t}',
                          'algolia_admin_api_key = "{t}"'],
    "zoom-jwt-secret": ['ZOOM_API_SECRET={t}', 'zoom_client_secret = "{t}"'],
    "onepassword-connect-token": ['OP_CONNECT_TOKEN={t}', 'op_connect_token: "{t}"'],
    "putty-private-key": [
        'PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: deploy\n'
        'Public-Lines: 1\nAAAAB3NzaC1yc2EAAAADAQABAAAAgQ\nPrivate-Lines: 2\n{t}\n'
        'AAAAQQDa8k\nPrivate-MAC: 4d1f'],
    "postgres-connection-string": ['DATABASE_URL=postgres://app:{t}@db.internal:5432/app',
                                   'url = "postgresql://admin:{t}@10.0.0.5/prod"'],
    "mysql-connection-string": ['DB_URL=mysql://root:{t}@mysql.internal:3306/shop',
                                'SQLALCHEMY_URL = "mysql+pymysql://app:{t}@db/app"'],
    "mongodb-connection-string": ['MONGO_URI=mongodb+srv://svc:{t}@cluster0.abcde.mongodb.net/app',
                                  'uri: "mongodb://admin:{t}@mongo:27017"'],
    "redis-connection-string": ['REDIS_URL=redis://default:{t}@cache.internal:6379/0',
                                'broker = "rediss://:{t}@redis.example.net:6380"'],
    "amqp-connection-string": ['AMQP_URL=amqp://guest:{t}@rabbit:5672/vhost',
                               'broker_url = "amqps://app:{t}@mq.internal"'],
    "sqlserver-connection-string": [
        'Server=tcp:acme.database.windows.net,1433;Database=app;User ID=app;Password={t};Encrypt=true;'],
    "jdbc-password": ['jdbc:postgresql://db:5432/app?user=app&password={t}'],
    "credentials-in-url": ['https://deploy:{t}@git.internal.example/acme/app.git',
                           'ftp://backup:{t}@files.example.org/dumps'],
    "netrc-password": ['machine api.example.com login deploy password {t}'],
    "htpasswd-plain": ['  --user admin --password {t}'],
    "authorization-basic": ['Authorization: Basic {t}',
                            'headers = {{"Authorization": "Basic {t}"}}'],
    "authorization-bearer": ['Authorization: Bearer {t}',
                             "curl -H 'Authorization: Bearer {t}' https://api.example.com"],
    "generic-password": ['password = "{t}"', '"db_password": "{t}",',
                         "$dbPassword = '{t}';"],
    "generic-secret": ['client_secret = "{t}"', 'SECRET_KEY = "{t}"',
                       '"app_secret": "{t}"'],
    "generic-api-key": ['api_key = "{t}"', 'const apiKey = "{t}";',
                        '"apikey": "{t}"'],
    "generic-token": ['auth_token = "{t}"', 'accessToken: "{t}",',
                      'String token = "{t}";'],
    "generic-client-secret": ['client_secret: "{t}"'],
    "generic-env-secret": ['SERVICE_API_KEY={t}', 'export INTERNAL_TOKEN={t}'],
    "generic-yaml-secret": ['  api_token: {t}', '  secret_key: {t}'],
}
