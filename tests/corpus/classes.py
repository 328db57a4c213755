#!/usr/bin/env python3
"""Write a second hand-labelled set, one directory per class of credential
that configuration files and code commonly hold (Docker registry logins,
passwords in every configuration shape, Datadog, Heroku, Twilio, generic
API keys, Kubernetes Secrets, PEM private keys with headers or odd line
lengths, AWS secret keys in any shape), each beside the look-alikes that
must stay quiet (templates, references, environment look-ups, examples,
keys that only name a password).  Written from the formats'
documentation; every value is random or made up.

    classes.py --out DIR

Labels as in configs.py: a line ending in <<P or <<S is a secret; the
label's rule is the top directory, so --by-rule gives figures per class.
"""
import argparse
import base64
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import configs  # noqa: E402

R = random.Random(1709)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def pem_body(n, width):
    """n random bytes of base64 body wrapped at width, last line short."""
    s = "".join(R.choice(B64) for _ in range(n))
    return "\n".join(s[i:i + width] for i in range(0, len(s), width))


DOCKERCFG = ('{"auths":{"https://index.docker.io/v1/":{"auth":"%s"}}}'
             % b64("ci-bot:Rk7vQ2mZ9xLp4Wn8"))

FILES = {
# ---- Docker registry logins --------------------------------------------------
"docker/home/.docker/config.json": """\
{
\t"auths": {
\t\t"https://index.docker.io/v1/": {
\t\t\t"auth": "%s"<<S
\t\t},
\t\t"quay.io": {
\t\t\t"auth": "%s",<<S
\t\t\t"email": "ops@acme.example"
\t\t}
\t},
\t"credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}
}
""" % (b64("deployer:vT8#qLm2Zx9Wp4"), b64("acme+robot:Q7ZK2M4XW9P1R8T3V6Y0")),
"docker/podman/containers/auth.json": """\
{"auths": {"registry.acme.example:5000": {"auth": "%s"}}}<<S
""" % b64("builder:h8Kd2pQx7Lw3Vz"),
"docker/legacy/.dockercfg": """\
{
  "https://index.docker.io/v1/": {
    "auth": "%s",<<S
    "email": "dev@acme.example"
  }
}
""" % b64("olduser:Xw9Lq2Vm7Tz4"),
"docker/azure/.docker/config.json": """\
{
  "auths": {
    "acmeregistry.azurecr.io": {
      "auth": "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==",
      "identitytoken": "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJiM2YxIiwic3ViIjoiYWNyIn0.Tz8rYq2Lm9Vx4Wn7Kp3Jd6Hs1Fb5Gc0Za8Xe2Qw4Rt7Yu"<<S
    }
  }
}
""",
"docker/k8s/pull-secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: regcred
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: %s<<S
""" % b64(DOCKERCFG),
# ---- passwords in configuration files ------------------------------------------
"pwconf/app/config.yaml": """\
database:
  host: db.internal
  port: 5432
  user: orders
  password: Tr0ub4dor-orders<<P
cache:
  password: "Lm9!xQ2#vB7z"<<P
""",
"pwconf/odbc.ini": """\
[orders]
Driver   = PostgreSQL Unicode
Server   = db.internal
Database = orders
UserName = orders
Password = Vq3mZ8xK2pL7<<P
""",
"pwconf/.pypirc": """\
[distutils]
index-servers = internal

[internal]
repository = https://pypi.acme.example/simple
username = uploader
password = F4kePyp1rcPw9<<P
""",
"pwconf/conf/jdbc.properties": """\
jdbc.driverClassName=org.postgresql.Driver
jdbc.username=app
jdbc.password : Hx72kLq9Vz<<P
javax.net.ssl.trustStorePassword=ts-Kq82mXv1<<P
mail.smtp.password    Sm7pQ2xW9v<<P
""",
"pwconf/spring/application.yml": """\
spring:
  datasource:
    url: jdbc:mysql://db:3306/shop
    username: shop
    password: Sh0pDbPass7<<P
  mail:
    host: smtp.acme.example
    password: 'mAil-9Kx2Lq'<<P
  security:
    user:
      password: ${ADMIN_PASSWORD}
""",
"pwconf/spring/applicationContext.xml": """\
<beans>
  <bean id="dataSource" class="org.apache.commons.dbcp2.BasicDataSource">
    <property name="username" value="app"/>
    <property name="password" value="Bean9Pw-x2"/><<P
  </bean>
  <bean id="ldap" class="org.springframework.ldap.core.support.LdapContextSource">
    <property name="password" value="${ldap.password}"/>
  </bean>
</beans>
""",
"pwconf/xml/props.xml": """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE properties SYSTEM "http://java.sun.com/dtd/properties.dtd">
<properties>
  <entry key="db.user">app</entry>
  <entry key="db.password">XmlEntry7Pw</entry><<P
</properties>
""",
"pwconf/xml/Web.config": """\
<configuration>
  <connectionStrings>
    <add name="Main" connectionString="Server=sql01;Database=Shop;User Id=shop;Password=Cs8kL2qVx9;"<<P
         providerName="System.Data.SqlClient" />
  </connectionStrings>
</configuration>
""",
"pwconf/xml/jboss-ds.xml": """\
<datasources>
  <datasource jndi-name="java:jboss/datasources/App" pool-name="App">
    <security>
      <user-name>app</user-name>
      <password>JbPw83kzQ</password><<P
    </security>
  </datasource>
</datasources>
""",
"pwconf/toml/settings.toml": """\
[db]
url = "postgres://db:5432/app"
username = "app"
password = 'TomlLit3ral9'<<P

[mail]
smtp = { host = "smtp.acme.example", user = "app", password = "InlTbl4Kx2" }<<P
""",
"pwconf/compose/docker-compose.yml": """\
services:
  db:
    image: mysql:8
    environment:
      - "MYSQL_ROOT_PASSWORD=Qz8Lk3Vm2x"<<P
      - MYSQL_PASSWORD=Wm4xK9qLz2<<P
      - MYSQL_DATABASE=shop
  cache:
    image: redis:7
    command: redis-server --requirepass Rd7kQ2mLx9<<P
  app:
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      RABBITMQ_DEFAULT_PASS: Rb9kL2xQm7<<P
""",
"pwconf/php/config.php": """\
<?php
$config['db_password'] = 'Php8Db-pw2Kx';<<P
define('DB_PASSWORD', 'WpDef1ne9Lq');<<P
define('AUTH_KEY', 'put your unique phrase here');
""",
# ---- Datadog ---------------------------------------------------------------------
"datadog/datadog.yaml": """\
## @param api_key - string - required
api_key: b5db303f12f46d0586f4e2dc5c4433eb<<S
site: datadoghq.eu
""",
"datadog/app.py": """\
from datadog import initialize, api

options = {
    "api_key": "e66db4c991184cc7fe0f404fd3df7c8c",<<S
    "app_key": "8b1f03c6e2a947d5b0c3e6f1a9d4728e5c0b3f6a",<<S
}
initialize(**options)
""",
"datadog/ci.sh": """\
curl -X POST "https://api.datadoghq.com/api/v1/series" \\
  -H "DD-API-KEY: 1b249a8224a7e1f7137952b666cdc587" \\<<S
  -H "DD-APPLICATION-KEY: 4c7e0a3d9f2b6e1c8a5d0f7b3e9c2a6d1f8b4e07" \\<<S
  -d @series.json
""",
"datadog/values.yaml": """\
datadog:
  site: datadoghq.com
  clusterName: prod
  logs:
    enabled: true
  apiKey: 1ed7153b04ead433cc187399815d75b4<<S
  appKey: 9e2c5b8f1a4d7e0c3b6f9a2d5e8c1b4f7a0d3e6c<<S
""",
# ---- Heroku ---------------------------------------------------------------------
"heroku/.netrc": """\
machine api.heroku.com
  login ops@acme.example
  password 085204a2-5d5b-42a7-9690-c31f2a0e0c00<<S
machine git.heroku.com
  login ops@acme.example
  password b31ed6e3-673b-48d9-be90-4eae97240a72<<S
""",
"heroku/deploy.yml": """\
jobs:
  deploy:
    steps:
      - uses: akhileshns/heroku-deploy@v3.13.15
        with:
          heroku_api_key: 89eca9fb-011e-4283-a755-05296c5e30d0<<S
          heroku_app_name: acme-web
""",
"heroku/release.js": """\
const Heroku = require('heroku-client');
const heroku = new Heroku({ token: 'f9f78ab0-3d90-4a72-9e37-cb3e3e04a6bf' });<<S
""",
# ---- Twilio ---------------------------------------------------------------------
"twilio/Send.java": """\
public class Send {
    public static final String ACCOUNT_SID = "AC0b7e3f9a2c5d8e1f4a7b0c3d6e9f2a5b";
    public static final String AUTH_TOKEN = "e3a9c1f7b5d2084e6c1a9f3b7d5e2c08";<<S
    public static void main(String[] args) {
        Twilio.init(ACCOUNT_SID, AUTH_TOKEN);
    }
}
""",
"twilio/settings.py": """\
TWILIO = {
    "account_sid": "AC5f2e8b1d4a7c0e3f6b9d2a5c8e1f4b7d",
    "auth_token": "c2f8a4e6b0d9173c5e8a2f4b6d0c9e71",<<S
}
""",
"twilio/.env": """\
TWILIO_SID=AC9d2e5f8a1b4c7d0e3f6a9b2c5d8e1f4a
TWILIO_TOKEN=5b8e1d4a7c0f3e6b9d2a5c8f1e4b7d0a<<S
""",
# ---- generic API keys and secrets in assignments ----------------------------
"generic/client.ts": """\
export const settings = {
  apiKey: "seLXVmg6cnnCcBW2Zltx7qK",<<S
  clientSecret: "1GNoHIUVGbWqj7CP2eN5x",<<S
};
""",
"generic/service.go": """\
var apiSecret = "59OHWq3bshfRnACzES4Bz9"<<S
const accessKey = "jMSpA9IbkbKNa0YqtKW1Lx"<<S
""",
"generic/Client.cs": """\
private const string ApiKey = "Ir3GmmY97EpfcPNUYKqX8w";<<S
private readonly string _appSecret = "gajQm1WkyJ9VFY1aOdO9Qm";<<S
""",
"generic/request.sh": """\
curl -H "X-API-Key: Zp4Qw8Lm2Vx6Kt9Rb3Nc7Hs" https://api.acme.example/v1/orders<<S
""",
"generic/conf.json": """\
{
  "service": {
    "api-key": "Hq7Vm2Kx9Lp4Zt6Wn1Rs8Jd",<<S
    "consumer_secret": "Yb3Nc7Hs1Fd5Gk9Lm2Qp6Wt"<<S
  }
}
""",
"generic/settings.rb": """\
config.api_key = "Tk8Rm2Vq5Lx9Zp3Wn7Bc4Hs"<<S
config.secret_key_base = "4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e3b6d0f5a9c2e7b1d4f8a3c6e0b5d9f2a"<<S
""",
# ---- Kubernetes Secret manifests -----------------------------------------------
"k8ssecret/app-secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: app
type: Opaque
data:
  DB_PASSWORD: %s<<S
  API_KEY: %s<<S
  DB_HOST: %s
  ENABLE_CACHE: dHJ1ZQ==
""" % (b64("Kv8Lq2Xm9Zp4"), b64("Wq3Lm8Kx2Vz7Np4Rt6"), b64("db.internal")),
"k8ssecret/multi.yml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  LOG_LEVEL: info
---
apiVersion: v1
kind: Secret
metadata:
  name: web
  namespace: prod
type: Opaque
data:
  "session-secret": "%s"<<S
  jwt_signing_key: %s<<S
""" % (b64("Xk2pQ9Lm7Vz3Wn8Rt4Bc"), b64("Jq7Vx2Mk9Lp4Zw8Nt3")),
"k8ssecret/tls.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: tls
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s<<S
""" % (b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
       b64("-----BEGIN PRIVATE KEY-----\n" + pem_body(200, 64) + "\n-----END PRIVATE KEY-----\n")),
"k8ssecret/basic-auth.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: basic
type: kubernetes.io/basic-auth
data:
  username: %s
  password: %s<<S
""" % (b64("admin"), b64("Bq9Kx2Lm7Vz4")),
# ---- private keys with headers or odd line lengths -----------------------------
"pem/legacy-enc.key": """\
-----BEGIN EC PRIVATE KEY-----<<S
Proc-Type: 4,ENCRYPTED
DEK-Info: DES-EDE3-CBC,3F9A2C7E1B8D4F60

%s
-----END EC PRIVATE KEY-----
""" % pem_body(220, 64),
"pem/wide.pem": """\
-----BEGIN RSA PRIVATE KEY-----<<S
%s
-----END RSA PRIVATE KEY-----
""" % pem_body(400, 76),
"pem/ragged.pem": """\
-----BEGIN PRIVATE KEY-----<<S
%s
%s
%s
-----END PRIVATE KEY-----
""" % (pem_body(50, 64), pem_body(64, 64), pem_body(33, 64)),
"pem/crlf.pem": ("-----BEGIN OPENSSH PRIVATE KEY-----\r<<S\n%s\r\n"
                 "-----END OPENSSH PRIVATE KEY-----\r\n"
                 % pem_body(300, 70).replace("\n", "\r\n")),
"pem/sa.json": """\
{
  "type": "service_account",
  "private_key": "-----BEGIN PRIVATE KEY-----\\n%s\\n-----END PRIVATE KEY-----\\n",<<S
  "client_email": "ci@acme-prod.iam.gserviceaccount.com"
}
""" % pem_body(300, 64).replace("\n", "\\n"),
"pem/values.yaml": """\
tls:
  key: |
    -----BEGIN RSA PRIVATE KEY-----<<S
    %s
    -----END RSA PRIVATE KEY-----
""" % pem_body(256, 64).replace("\n", "\n    "),
"pem/ec-params.pem": """\
-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----<<S
%s
-----END EC PRIVATE KEY-----
""" % pem_body(160, 64),
# ---- AWS secret keys outside aws_secret_access_key = ----------------------------
"awssecret/create-access-key.json": """\
{
    "AccessKey": {
        "UserName": "ci",
        "AccessKeyId": "AKIAV3QJ7XR2ZP4MWL5N",<<S
        "Status": "Active",
        "SecretAccessKey": "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",<<S
        "CreateDate": "2026-03-14T09:12:44+00:00"
    }
}
""",
"awssecret/s3.js": """\
const s3 = new S3Client({
  region: "eu-west-1",
  credentials: {
    accessKeyId: "AKIAT6PZ2XQ4LM7NBW3R",<<S
    secretAccessKey: "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",<<S
  },
});
""",
"awssecret/boto.py": """\
import boto3
s3 = boto3.client(
    "s3",
    aws_access_key_id="AKIAY2LQ7ZP4XKJMWN3T",<<S
    aws_secret_access_key="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",<<S
)
""",
"awssecret/credentials.csv": """\
User name,Password,Access key ID,Secret access key,Console login link
ci,,AKIAQ7XP2LZ4MKDNWB3V,p8eB3SELW9rS8iLAUjTZ5xuBvn0wLR7xJwCWUxa5,https://acme.signin.aws.amazon.com/console<<S
""",
"awssecret/backup.conf": """\
[s3]
access_key = AKIAM4XQ7LP2ZNHKWB3T<<S
secret_key = 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<<S
bucket = acme-backups
""",
# ---- must stay quiet: templates --------------------------------------------------
"quiet2/helm/templates/deploy.yaml": """\
env:
  - name: DB_PASSWORD
    value: {{ .Values.db.password | quote }}
  - name: API_KEY
    value: "{{ required "apiKey" .Values.apiKey }}"
""",
"quiet2/ansible/group_vars/all.yml": """\
db_password: "{{ vault_db_password }}"
smtp_password: '{{ lookup("env", "SMTP_PASSWORD") }}'
api_secret: "{{ secrets['api'] }}"
""",
"quiet2/app.ini": """\
[db]
password = %(DB_PASSWORD)s
secret = ${SECRET}
token = $(cat /run/secrets/token)
api_key = %API_KEY%
""",
"quiet2/config/database.yml.erb": """\
production:
  password: <%= ENV.fetch("DATABASE_PASSWORD") %>
  secret_key_base: <%= Rails.application.credentials.secret_key_base %>
""",
"quiet2/application.properties": """\
spring.datasource.password=${DB_PASSWORD:}
app.api-key=${API_KEY}
app.client-secret=#{systemEnvironment['CLIENT_SECRET']}
""",
"quiet2/terraform.tf": """\
provider "datadog" {
  api_key = var.datadog_api_key
  app_key = data.vault_generic_secret.dd.data["app_key"]
}
""",
# ---- must stay quiet: examples and fixtures -------------------------------------
"quiet2/README.md": """\
Configure the client:

    export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
    export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
    export TWILIO_AUTH_TOKEN=your_auth_token
    export DD_API_KEY=<DATADOG_API_KEY>
    password: changeme
    api_key: xxxxxxxxxxxxxxxxxxxxxxxx
""",
"quiet2/tests/fixtures.py": """\
PASSWORD = "aaaaaaaaaaaa"
API_KEY = "0123456789abcdef0123"
SECRET = "abcdefghijklmnopqrstuvwxyz"
TOKEN = "1111111111111111111111111"
stripe_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
""",
"quiet2/docker/.docker/config.json": """\
{
  "auths": {
    "https://index.docker.io/v1/": {}
  },
  "credsStore": "osxkeychain"
}
""",
"quiet2/k8s/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: placeholder
type: Opaque
data:
  password: %s
  api_key: %s
  token: %s
""" % (b64("changeme"), b64("${API_KEY}"), b64("REPLACE_ME")),
# ---- must stay quiet: environment look-ups ---------------------------------------
"quiet2/env_lookups.py": """\
import os
password = os.environ["DB_PASSWORD"]
api_key = os.environ.get("API_KEY", "")
secret = os.getenv("APP_SECRET")
""",
"quiet2/env_lookups.js": """\
const apiKey = process.env.API_KEY;
const dbPassword = process.env["DB_PASSWORD"];
const { TWILIO_AUTH_TOKEN: authToken } = process.env;
""",
"quiet2/env_lookups.go": """\
password := os.Getenv("DB_PASSWORD")
apiKey, ok := os.LookupEnv("API_KEY")
""",
"quiet2/Env.java": """\
String password = System.getenv("DB_PASSWORD");
String apiKey = System.getProperty("api.key");
""",
"quiet2/env_lookups.rs": """\
let password = std::env::var("DB_PASSWORD")?;
""",
"quiet2/env_lookups.c": """\
const char *password = getenv("DB_PASSWORD");
""",
"quiet2/env_lookups.rb": """\
password = ENV["DB_PASSWORD"]
api_key = ENV.fetch("API_KEY")
""",
# ---- must stay quiet: keys that only name a password ----------------------------
"quiet2/form.yml": """\
password_field: password
password: required
password: true
password_confirmation: required
password_reset_url: /account/reset
""",
"quiet2/openapi.yaml": """\
components:
  schemas:
    Login:
      properties:
        password:
          type: string
          format: password
        api_key:
          type: string
""",
"quiet2/i18n/en.json": """\
{
  "password": "Password",
  "password_hint": "At least 12 characters",
  "api_key": "API key",
  "secret": "Secret"
}
""",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    configs.FILES = FILES
    sys.argv = [sys.argv[0], "--out", a.out]
    configs.main()


if __name__ == "__main__":
    main()
