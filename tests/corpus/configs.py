#!/usr/bin/env python3
"""Write a hand-labelled set of configuration files holding hardcoded
passwords and keys, as the formats' documentation and people write them
(compose, .env, Kubernetes, Spring, Django, Rails, CI YAML, INI,
.properties, XML, TOML, Docker config.json, PEM, provider keys), with the
references and placeholders that must stay quiet beside them.

    configs.py --out DIR

A line ending in the marker <<P (a password that should name the fix) or
<<S (a secret) is labelled; the marker is removed.  labels.json lists
{path, line, rule, fix} where rule is the format (for per-format figures)
and fix says the finding must name how to keep the value out of the file.
"""
import argparse
import json
import os

FILES = {
# ---- docker compose: environment maps and lists ----------------------------
"compose/wordpress/compose.yaml": """\
services:
  db:
    image: mariadb:10.6.4-focal
    command: '--default-authentication-plugin=mysql_native_password'
    volumes:
      - db_data:/var/lib/mysql
    restart: always
    environment:
      - MYSQL_ROOT_PASSWORD=somewordpress<<P
      - MYSQL_DATABASE=wordpress
      - MYSQL_USER=wordpress
      - MYSQL_PASSWORD=wordpress<<P
    expose:
      - 3306
  wordpress:
    image: wordpress:latest
    ports:
      - 80:80
    environment:
      - WORDPRESS_DB_HOST=db
      - WORDPRESS_DB_USER=wordpress
      - WORDPRESS_DB_PASSWORD=wordpress<<P
      - WORDPRESS_DB_NAME=wordpress
volumes:
  db_data:
""",
"compose/postgres/docker-compose.yml": """\
services:
  db:
    image: postgres
    restart: always
    environment:
      POSTGRES_PASSWORD: example<<P
  adminer:
    image: adminer
    ports:
      - 8080:8080
""",
"compose/mssql/docker-compose.yaml": """\
services:
  sqlserver:
    image: mcr.microsoft.com/mssql/server:2022-latest
    environment:
      ACCEPT_EULA: "Y"
      SA_PASSWORD: "yourStrong(!)Password"<<P
      MSSQL_PID: Developer
""",
"compose/grafana/compose.yaml": """\
services:
  grafana:
    image: grafana/grafana
    environment:
      - GF_SECURITY_ADMIN_USER=admin
      - GF_SECURITY_ADMIN_PASSWORD=grafana<<P
  prometheus:
    image: prom/prometheus
""",
"compose/monitoring/docker-compose.yml": """\
version: "3.8"
services:
  grafana:
    image: grafana/grafana:10.2.0
    environment:
      GF_SECURITY_ADMIN_USER: admin
      GF_SECURITY_ADMIN_PASSWORD: admin<<P
      GF_USERS_ALLOW_SIGN_UP: "false"
  rabbitmq:
    image: rabbitmq:3-management
    environment:
      RABBITMQ_DEFAULT_USER: app
      RABBITMQ_DEFAULT_PASS: guest<<P
  redis:
    image: redis:7
    command: redis-server --requirepass sOmE_sEcUrE_pAsS<<P
  mongo:
    image: mongo
    environment:
      MONGO_INITDB_ROOT_USERNAME: root
      MONGO_INITDB_ROOT_PASSWORD: "q7Vt!w2ZrK9pLx3e"<<P
""",
"compose/app/docker-compose.override.yml": """\
services:
  api:
    build: .
    environment:
      - "DATABASE_PASSWORD=devpass123"<<P
      - KEYCLOAK_ADMIN=admin
      - KEYCLOAK_ADMIN_PASSWORD=Adm1nPassw0rd<<P
      - MINIO_ROOT_USER=minio
      - MINIO_ROOT_PASSWORD=minio123<<P
""",
"compose/stack/docker-compose.yml": """\
services:
  postgres:
    environment:
      - POSTGRES_USER=keycloak
      - POSTGRES_PASSWORD=keycloak_pw<<P
  keycloak:
    environment:
      KC_DB_PASSWORD: "kc-db-secret"<<P
      KEYCLOAK_ADMIN_PASSWORD: admin123<<P
  mariadb:
    environment:
      MARIADB_ROOT_PASSWORD: rootpass<<P
      MARIADB_PASSWORD: 'nextcloud'<<P
  pgadmin:
    environment:
      PGADMIN_DEFAULT_PASSWORD: SuperSecret<<P
  mssql:
    environment:
      - "MSSQL_SA_PASSWORD=P@ssw0rd2022"<<P
  influx:
    environment:
      DOCKER_INFLUXDB_INIT_PASSWORD: my-password<<P
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: my-super-secret-auth-token<<P
  minio:
    environment:
      MINIO_ROOT_PASSWORD: minioadmin<<P
  neo4j:
    environment:
      NEO4J_AUTH: neo4j/test1234<<P
  elastic:
    environment:
      ELASTIC_PASSWORD: changeme<<P
  ldap:
    environment:
      LDAP_ADMIN_PASSWORD: "ldap.admin.2024"<<P
  redis:
    command: ["redis-server", "--requirepass", "redispass"]<<P
  mongo-express:
    environment:
      ME_CONFIG_MONGODB_ADMINPASSWORD: example<<P
      ME_CONFIG_BASICAUTH_PASSWORD: "hX9#kq2!Lm"<<P
""",
"env/.env.local": """\
MYSQL_PASSWORD=dbpass<<P
RAILS_MASTER_KEY=8d2f6c1a9e4b7d3f0c5a2e8b6d1f4a7c<<S
SMTP_PASS=mailer2023<<P
""",
"rails/config/database.test.yml": """\
test:
  adapter: mysql2
  username: root
  password: "root"<<P
  host: localhost
""",
"spring/config/application-dev.properties": """\
spring.datasource.password=sa123<<P
quarkus.datasource.password=quarkus<<P
""",
"django/inline/settings.py": """\
DATABASES = {"default": {"ENGINE": "django.db.backends.mysql", "PASSWORD": "django123"}}<<P
""",
"ci/mysql/.gitlab-ci.yml": """\
services:
  - name: mysql:8
    variables:
      MYSQL_ROOT_PASSWORD: ci_root_pw<<P
""",
"k8s/statefulset.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
spec:
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:15
          env:
            - name: POSTGRES_PASSWORD
              value: "pg-admin-2023"<<P
            - name: PGDATA
              value: /var/lib/postgresql/data/pgdata
            - name: REPLICATION_PASSWORD
              valueFrom:
                secretKeyRef: {name: pg, key: repl}
""",
"k8s/secret-registry.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: registry
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeS5hY21lLmlvIjp7ImF1dGgiOiJaR1Z3Ykc5NU9saHhPSFpNYlRKd1VuUTNlZz09In19fQ==<<S
---
apiVersion: v1
kind: Secret
metadata:
  name: api
stringData:
  API_TOKEN: "tok_live_51HqLyjWDarjtT1zdp7dc"<<P
  DB_PASSWORD: hunter2<<P
""",
"spring/application-prod.yaml": """\
spring:
  datasource:
    password: ${DB_PASSWORD}
  mail:
    host: smtp.gmail.com
    password: gmailAppPass01<<P
  data:
    redis:
      password: redis-secret<<P
jwt:
  secret: 5367566B59703373367639792F423F4528482B4D6251655468576D5A71347437<<S
""",
"django/prod_settings.py": """\
import os
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
EMAIL_HOST_PASSWORD = "sendgridpass"<<P
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "PASSWORD": "postgres",<<P
        "HOST": os.getenv("DB_HOST", "localhost"),
    }
}
""",
"rails/config/cable.yml": """\
production:
  adapter: redis
  url: redis://:cablepass@localhost:6379/1<<S
""",
"ci/.travis.yml": """\
services:
  - mysql
env:
  global:
    - DB_PASSWORD=travis_pw<<P
before_script:
  - mysql -e 'CREATE DATABASE test;'
""",
"ci/bitbucket-pipelines.yml": """\
definitions:
  services:
    postgres:
      image: postgres
      variables:
        POSTGRES_DB: pipelines
        POSTGRES_PASSWORD: let_me_in<<P
""",
"ini/php.ini": """\
[mail function]
SMTP = localhost
smtp_port = 25
mysqli.default_pw = phppass<<P
""",
"ini/supervisord.conf": """\
[inet_http_server]
port=127.0.0.1:9001
username=admin
password=superv1sor<<P
""",
"xml/server.xml": """\
<Server>
  <Service name="Catalina">
    <Connector port="8443" keystoreFile="conf/keystore.jks" keystorePass="changeit" /><<P
  </Service>
</Server>
""",
"xml/tomcat-users.xml": """\
<tomcat-users>
  <user username="admin" password="s3cret" roles="manager-gui"/><<P
</tomcat-users>
""",
"toml/netlify.toml": """\
[build.environment]
  NODE_VERSION = "20"
  SANITY_TOKEN = "skAbCdEf1234567890GhIjKlMnOpQrStUvWxYz"<<S
""",
"toml/pyproject.toml": """\
[tool.poetry]
name = "app"
[[tool.poetry.source]]
name = "private"
url = "https://pypi.example.com/simple"
password = "poetryPw9"<<P
""",
"env/.env.docker": """\
PGPASSWORD=pgpass<<P
MONGO_INITDB_ROOT_PASSWORD=mongopass<<P
NEXTAUTH_SECRET=supersecretvalue<<P
GITHUB_CLIENT_SECRET=
DATABASE_URL=postgresql://user:dbpw@db:5432/app<<P
""",
"rails/config/storage.yml": """\
amazon:
  service: S3
  access_key_id: <%= Rails.application.credentials.dig(:aws, :access_key_id) %>
  secret_access_key: <%= Rails.application.credentials.dig(:aws, :secret_access_key) %>
""",
"compose/safe/compose.yaml": """\
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db-password
      POSTGRES_HOST_AUTH_METHOD: trust
    secrets:
      - db-password
  mysql:
    image: mysql:8
    environment:
      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}
      MYSQL_ALLOW_EMPTY_PASSWORD: "yes"
      MYSQL_RANDOM_ROOT_PASSWORD: "1"
      - MYSQL_PASSWORD=${MYSQL_PASSWORD:?set MYSQL_PASSWORD}
      GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_pw
      RABBITMQ_DEFAULT_PASS: $RABBIT_PASS
      MSSQL_SA_PASSWORD: <YourStrong@Passw0rd>
      REDIS_PASSWORD: ""
secrets:
  db-password:
    file: db/password.txt
""",
"compose/nginx-flask-mysql/db/password.txt": "db-btf5q<<P\n",
"compose/react-express-mongodb/db/password.txt": "4nXp9-Ztq2<<P\n",
# ---- .env files --------------------------------------------------------------
"env/.env": """\
APP_NAME=Laravel
APP_ENV=local
DB_CONNECTION=mysql
DB_HOST=127.0.0.1
DB_DATABASE=laravel
DB_USERNAME=root
DB_PASSWORD=secret<<P
REDIS_PASSWORD=null
MAIL_PASSWORD=null
MAIL_USERNAME=
AWS_SECRET_ACCESS_KEY=
""",
"env/backend.env": """\
POSTGRES_USER=app
POSTGRES_PASSWORD=postgres<<P
JWT_SECRET=9f8a7c6b5d4e3f2a1b0c9d8e7f6a5b4c<<S
SMTP_PASSWORD="Tr0ub4dor&3"<<P
SESSION_SECRET=${SESSION_SECRET}
""",
"env/.env.production": """\
NODE_ENV=production
export DB_PASS=hunter2hunter2<<P
STRIPE_WEBHOOK_TOLERANCE=300
""",
# ---- Kubernetes ----------------------------------------------------------------
"k8s/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: db-user-pass
type: Opaque
data:
  username: YWRtaW4=
  password: MWYyZDFlMmU2N2Rm<<P
---
apiVersion: v1
kind: Secret
metadata:
  name: mysecret
type: Opaque
stringData:
  config.yaml: |
    apiUrl: "https://my.api.com/api/v1"
    username: admin
    password: t0p-Secret<<P
""",
"k8s/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mysql
spec:
  template:
    spec:
      containers:
      - image: mysql:9
        name: mysql
        env:
        - name: MYSQL_ROOT_PASSWORD
          value: password<<P
        - name: APP_DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: mysql-pass
              key: password
""",
"k8s/values.yaml": """\
auth:
  username: app
  password: "{{ .Values.global.dbPassword }}"
  existingSecret: ""
  secretKeys:
    adminPasswordKey: postgres-password
postgresql:
  auth:
    postgresPassword: chartPostgres1<<P
""",
# ---- Spring ------------------------------------------------------------------------
"spring/application.properties": """\
spring.datasource.url=jdbc:mysql://localhost:3306/db_example
spring.datasource.username=springuser
spring.datasource.password=ThePassword<<P
spring.mail.password=${MAIL_PASSWORD}
spring.rabbitmq.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)
management.endpoint.health.show-details=always
""",
"spring/application.yml": """\
spring:
  datasource:
    url: jdbc:postgresql://localhost:5432/app
    username: app
    password: s3cr3tPassw0rd<<P
  security:
    oauth2:
      client:
        registration:
          github:
            client-id: Iv1.8a61f9b3a7aba766
            client-secret: 4c2e9d1a7f6b8e3d5c0a9f2b1e8d7c6a5b4f3e2d<<S
""",
# ---- Django ----------------------------------------------------------------------------
"django/mysite/settings.py": """\
from pathlib import Path
import os

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = 'django-insecure-+3h&k9!x2v@w#q7z$m5n8p1r4t6y0u'<<S
DEBUG = True
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'mydatabase',
        'USER': 'mydatabaseuser',
        'PASSWORD': 'mypassword',<<P
        'HOST': '127.0.0.1',
        'PORT': '5432',
    },
    'replica': {
        'ENGINE': 'django.db.backends.postgresql',
        'PASSWORD': os.environ['REPLICA_PASSWORD'],
    },
}
AUTH_PASSWORD_VALIDATORS = [
    {'NAME': 'django.contrib.auth.password_validation.MinimumLengthValidator'},
]
EMAIL_HOST_PASSWORD = 'Xc8#pL2qW9z!'<<P
""",
# ---- Rails -------------------------------------------------------------------------------
"rails/config/database.yml": """\
default: &default
  adapter: postgresql
  encoding: unicode
  pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>

development:
  <<: *default
  database: myapp_development
  username: myapp
  password: password1<<P

production:
  <<: *default
  database: myapp_production
  username: myapp
  password: <%= ENV["MYAPP_DATABASE_PASSWORD"] %>
""",
"rails/config/secrets.yml": """\
development:
  secret_key_base: 3b7cd727ee24e8444053437c36cc66c3e97b1e3d2cd7e5a8a6f4dcbf8ad5a6e7f1b2c3d4e5f60718293a4b5c6d7e8f90<<S
production:
  secret_key_base: <%= ENV["SECRET_KEY_BASE"] %>
""",
# ---- CI ------------------------------------------------------------------------------------
"ci/.github/workflows/test.yml": """\
name: test
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      postgres:
        image: postgres:16
        env:
          POSTGRES_PASSWORD: postgres<<P
        ports:
          - 5432:5432
    steps:
      - uses: actions/checkout@v4
      - run: npm test
        env:
          DB_PASSWORD: ${{ secrets.DB_PASSWORD }}
          PGPASSWORD: ci-test-pass<<P
""",
"ci/.gitlab-ci.yml": """\
variables:
  POSTGRES_DB: test
  POSTGRES_USER: runner
  POSTGRES_PASSWORD: "runner-password"<<P
  MYSQL_ROOT_PASSWORD: $MYSQL_ROOT_PASSWORD
test:
  image: ruby:3.3
  services:
    - postgres:16
  script:
    - bundle exec rake test
""",
# ---- INI, .properties, TOML, XML -------------------------------------------------------------
"ini/my.cnf": """\
[client]
user=root
password=Pa55w0rd<<P

[mysqld]
datadir=/var/lib/mysql
""",
"ini/app.ini": """\
[database]
host = db.internal
user = app
password = iniPass#42<<P
password_min_length = 12

[smtp]
password = %(SMTP_PASSWORD)s
""",
"properties/db.properties": """\
db.url=jdbc:postgresql://db:5432/app
db.user=app
db.password=hunter22<<P
ldap.bind.password=
keystore.password=${KEYSTORE_PASSWORD}
""",
"toml/config.toml": """\
[database]
host = "localhost"
user = "app"
password = "toml-pass-2024"<<P

[server]
port = 8080
""",
"xml/settings.xml": """\
<settings>
  <servers>
    <server>
      <id>nexus-releases</id>
      <username>deployment</username>
      <password>d3pl0yM3!</password><<P
    </server>
    <server>
      <id>central</id>
      <password>${env.CENTRAL_PASSWORD}</password>
    </server>
  </servers>
</settings>
""",
"xml/maven/settings.xml": """\
<settings>
  <!-- proxies
   | <proxy>
   |   <id>optional</id>
   |   <username>proxyuser</username>
   |   <password>proxypass</password>
   | </proxy>
   |-->
  <servers>
    <!-- <server><id>old</id><password>oldRepoPw1</password></server> -->
    <server>
      <id>deploy</id>
      <password>mvnDeploy2024</password><<P
    </server>
  </servers>
</settings>
""",
"xml/hibernate.cfg.xml": """\
<hibernate-configuration>
  <session-factory>
    <property name="hibernate.connection.username">app</property>
    <property name="hibernate.connection.password">hibpass99</property><<P
  </session-factory>
</hibernate-configuration>
""",
"xml/context.xml": """\
<Context>
  <Resource name="jdbc/app" auth="Container" type="javax.sql.DataSource"
            username="app" password="tomcatPw1"<<P
            driverClassName="org.postgresql.Driver"/>
</Context>
""",
"xml/web.config": """\
<configuration>
  <appSettings>
    <add key="SmtpPassword" value="mailPass2023" /><<P
    <add key="PasswordPolicy" value="strict" />
  </appSettings>
</configuration>
""",
# ---- Docker config.json ------------------------------------------------------------------------
"docker/.docker/config.json": """\
{
  "auths": {
    "https://index.docker.io/v1/": {
      "auth": "dXNlcjpwYXNzd29yZDEyMw=="<<S
    },
    "registry.example.com": {
      "identitytoken": "9cbaf023786cd7a3d16f4a7c6a1e9c0b2e3f4d5a"<<S
    },
    "ghcr.io": {}
  },
  "credsStore": "desktop"
}
""",
# ---- provider keys in assignments -----------------------------------------------------------------
"keys/providers.tf": """\
provider "datadog" {
  api_key = "3f9c2b7e1d4a6f8c0b5e9d2a7c4f1e6b"<<S
  app_key = "8e1f4a7c2d9b6e3f0a5c8d1b4e7f2a9c6d3b0e5f"<<S
}
provider "heroku" {
  email   = "ops@acme.io"
  api_key = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"<<S
}
""",
"keys/twilio.js": """\
const accountSid = 'ACb3f9c2b7e1d4a6f8c0b5e9d2a7c4f1e6';
const authToken = '9d2a7c4f1e6b3f9c2b7e1d4a6f8c0b5e';<<S
const client = require('twilio')(accountSid, authToken);
""",
"keys/aws.go": """\
creds := credentials.NewStaticCredentials("AKIAZ7QK3XW2PLM4NB6V", "tV3+qP9wLx2Zr8Km5Jn1Hc7Gd4Fs0Ya6Be9Ct2Uw", "")<<S
""",
"keys/monitoring.env": """\
DD_API_KEY=8f2c1d9e7b6a5f4e3d2c1b0a9f8e7d6c<<S
DD_APP_KEY=4b3a2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b<<S
DD_SITE=datadoghq.eu
""",
"keys/datadog.yaml": """\
api_key: 0f1e2d3c4b5a69788796a5b4c3d2e1f0<<S
site: datadoghq.com
""",
"keys/deploy.sh": """\
#!/bin/sh
export HEROKU_API_KEY=2f3c5a8e-91b4-4d7e-a6c2-0b9d8e7f6a51<<S
export TWILIO_ACCOUNT_SID=ACa1b2c3d4e5f60718293a4b5c6d7e8f90
export TWILIO_AUTH_TOKEN=3c9f0e1d2b4a6c8e0f1a3b5d7c9e1f2a<<S
heroku container:release web
""",
"keys/notify.py": """\
from twilio.rest import Client

account_sid = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90"
auth_token = "7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"<<S
client = Client(account_sid, auth_token)
""",
"keys/main.tf": """\
provider "aws" {
  region     = "us-west-2"
  access_key = "AKIAR7XVNQ2J4DLBWE3P"<<S
  secret_key = "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"<<S
}
""",
"keys/aws.properties": """\
aws.accessKeyId=AKIAW4NRQ5ZT7JPCXH2M<<S
aws.secretKey=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<<S
""",
"keys/client.js": """\
const API_KEY = "a8f5f167f44f4964e6c998dee827110c";<<S
const config = { apiSecret: "Vb7Qm2Kx9Lp4Zt6Wn1Rs8Jd3Fh5Gc0Ya" };<<S
export const apiKey = process.env.API_KEY;
""",
"keys/api.rb": """\
Stripe.api_key = ENV["STRIPE_API_KEY"]
SENDGRID_SECRET = "q8Zr4Lm1Xv7Nt2Kp9Wb5Hc3Jf6Gd0Sa"<<S
""",
# ---- private keys -------------------------------------------------------------------------------
"pem/server.key": """\
-----BEGIN RSA PRIVATE KEY-----<<S
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,6A3F1B2C9D8E7F60A1B2C3D4E5F60718

q3Zr8VbXk2Lm7Np4Qs9Tu1Wv6Xy0Za5Bc8Df3Gh7Jk2Lm6Np1Qs5Tu9Wv4Xy8Za
3Bc7Df2Gh6Jk1Lm5Np0Qs4Tu8Wv3Xy7Za2Bc6Df1Gh5Jk0Lm4Np9Qs3Tu7Wv2X
y6Za1Bc5Df0Gh4Jk9Lm3Np8Qs2Tu6Wv1Xy5Za0Bc4Df9Gh3Jk8Lm2Np7Qs1Tu5
Wv0Xy4Za9Bc3Df8Gh2Jk7Lm1Np6Qs0Tu4Wv9Xy3Za8Bc2Df7Gh1Jk6Lm0Np5Qs9
Tu3Wv8Xy2Za7Bc1Df6Gh0Jk5Lm9Np4Qs8Tu2Wv7Xy1Za6Bc0Df5Gh9Jk4Lm8Np3=
-----END RSA PRIVATE KEY-----
""",
"pem/client.pem": """\
-----BEGIN PRIVATE KEY-----<<S
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7mX2pQ9rZ4kLw8Vn3Tj
Hc6Yb1Ud5Ef0Gs7Ia2Kq4Mo9Nr3Pt8Sv1Wx6Yz0Ab5Cd2Ef7Gh3Ij8Kl4Mn9Op1Qr6
St3Uv8Wx2Yz7Ab1Cd6Ef0Gh5Ij9Kl3Mn8Op2Qr7St1Uv6Wx0Yz5Ab9Cd4Ef8Gh2Ij7Kl1Mn6Op0Qr5
St9Uv4Wx8Yz3Ab7Cd2Ef6Gh0Ij5Kl9Mn4Op8Qr3St7Uv2Wx6Yz1Ab5Cd0Ef4Gh8
Ij3Kl7Mn2Op6Qr1St5Uv0Wx4Yz8Ab3Cd7Ef2Gh6Ij1Kl5Mn0Op4Qr8St3Uv7Wx2Yz6Ab1=
-----END PRIVATE KEY-----
""",
# ---- committed secret files ------------------------------------------------------------------------
"files/.pgpass": "# hostname:port:database:username:password\nlocalhost:5432:app:app:pgpass123<<P\n*:*:*:replica:Rp9xL2mQ7vZ4\n",
"files/.npmrc": "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=NpmT0kenValue1234567890abc<<S\n",
"files/secrets/db_password.txt": "Winter2024!<<P\n",
"files/.aws/credentials": """\
[default]
aws_access_key_id = AKIAQ3EGWK7ZPN4XJ2LV<<S
aws_secret_access_key = Wq8+Rt2Yu6Io0Pa4Sd9Fg3Hj7Kl1Zx5Cv8Bn2Mq4W<<S
""",
# ---- code that must stay quiet --------------------------------------------------------------------
# ---- written as coding agents write them (defaults inside references,
# services in CI, settings modules, manifests) ---------------------------------
"compose/agent/docker-compose.yml": """\
version: "3.9"
services:
  postgres:
    image: postgres:16-alpine
    environment:
      POSTGRES_USER: ${POSTGRES_USER:-app}
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-postgres}<<P
      POSTGRES_DB: ${POSTGRES_DB:-app}
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app"]
  redis:
    image: redis:7
    command: ["redis-server", "--requirepass", "${REDIS_PASSWORD:-redispass}"]<<P
  api:
    build: .
    environment:
      - DATABASE_URL=postgresql://app:${POSTGRES_PASSWORD:-postgres}@postgres:5432/app<<P
      - JWT_SECRET=${JWT_SECRET:-dev-jwt-secret-change-me}<<P
      - ADMIN_PASSWORD=${ADMIN_PASSWORD:?set ADMIN_PASSWORD}
  rabbitmq:
    image: rabbitmq:3-management
    environment:
      RABBITMQ_DEFAULT_USER: admin
      RABBITMQ_DEFAULT_PASS: "Rb9!xQ2mLp7z"<<P
  minio:
    image: minio/minio
    environment:
      MINIO_ROOT_USER: minioadmin
      MINIO_ROOT_PASSWORD: minioadmin<<P
""",
"env/agent/.env": """\
# Database
DB_HOST=localhost
DB_PORT=5432
DB_USER=app
DB_PASSWORD="supersecret123"<<P
# Auth
JWT_SECRET='k3J9vQ2xLm8pR4tZ7wYb1nC6'<<P
SESSION_SECRET=my-session-secret<<P
OPENAI_API_KEY=${OPENAI_API_KEY}
STRIPE_SECRET_KEY=
SMTP_PASS=mailpass2024<<P
""",
"k8s/agent/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.4.2
          args: ["--db-password=Zq8#tW3vNp1x"]<<P
          env:
            - name: DATABASE_PASSWORD
              value: "changeme123"<<P
            - name: REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: redis
                  key: password
""",
"k8s/agent/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
data:
  DB_HOST: postgres
  DB_PASSWORD: "hunter22"<<P
  LOG_LEVEL: info
""",
"spring/agent/application.yml": """\
spring:
  datasource:
    url: jdbc:postgresql://localhost:5432/shop
    username: shop
    password: ${DB_PASSWORD:shop_pass}<<P
  mail:
    host: smtp.gmail.com
    username: noreply@acme.test
    password: "xkcd corr horse"<<P
app:
  jwt:
    secret: 4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e<<P
""",
"spring/agent/application.properties": """\
spring.datasource.url=jdbc:mysql://db:3306/app
spring.datasource.username=root
spring.datasource.password=${MYSQL_PASSWORD:db-57xsl}<<P
spring.rabbitmq.password=guest<<P
""",
"django/agent/settings.py": """\
SECRET_KEY = 'django-insecure-7#k!x@2v$q9m^b3w&z0r*t8y+u1p=e5n'<<P
DEBUG = True
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'mydb',
        'USER': 'myuser',
        'PASSWORD': 'mypassword',<<P
        'HOST': 'localhost',
    }
}
EMAIL_HOST_PASSWORD = 'app-specific-pw-9x2'<<P
""",
"rails/agent/config/database.yml": """\
default: &default
  adapter: postgresql
  encoding: unicode
  username: postgres
  password: <%= ENV.fetch("DATABASE_PASSWORD") { "postgres" } %><<P
development:
  <<: *default
  database: app_development
production:
  <<: *default
  password: Pr0d!Db#2024<<P
""",
"ci/agent/.github/workflows/ci.yml": """\
name: CI
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      postgres:
        image: postgres:16
        env:
          POSTGRES_PASSWORD: postgres<<P
        ports: ["5432:5432"]
    env:
      DATABASE_URL: postgres://postgres:postgres@localhost:5432/test<<P
      API_TOKEN: ${{ secrets.API_TOKEN }}
    steps:
      - uses: actions/checkout@v4
      - run: npm test
""",
"ci/agent/.circleci/config.yml": """\
version: 2.1
jobs:
  build:
    docker:
      - image: cimg/python:3.12
      - image: cimg/mysql:8.0
        environment:
          MYSQL_ROOT_PASSWORD: rootpw<<P
          MYSQL_PASSWORD: "t3stPassw0rd"<<P
""",
"k8s/agent/minio.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: minio
spec:
  template:
    spec:
      containers:
        - name: minio
          image: minio/minio:latest
          args: ["server", "/data"]
          env:
            - name: MINIO_ACCESS_KEY
              value: "minio"
            - name: MINIO_SECRET_KEY
              value: "minio123"<<P
            - name: GITLAB_RUNNER_TOKEN
              value: "Hn4wQ8zR2vK7pX1mT9bL"<<P
            - name: ETCD_DISCOVERY_TOKEN
              value: INSERT_ETCD_DISCOVERY_TOKEN
""",
"k8s/agent/db.yml": """\
---
apiVersion: v1
kind: Secret
metadata:
  name: demo-db
type: servicebinding.io/postgresql
stringData:
  type: "postgresql"
  host: "demo-db"
  username: "user"
  password: "pass"<<P
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-db
spec:
  template:
    spec:
      containers:
        - image: postgres:16
          env:
            - name: POSTGRES_USER
              valueFrom:
                secretKeyRef:
                  name: demo-db
                  key: username
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: demo-db
                  key: password
""",
"quiet/rails/config.example.yml": """\
connections:
  mysql2:
    arunit:
      username: rails
      password: <%= ENV['ARUNIT_PASSWORD'] || 'arunit' %>
      host: localhost
""",
"quiet/compose.sample.yaml": """\
services:
  db:
    environment:
      POSTGRES_PASSWORD: example
      MYSQL_PASSWORD: ${MYSQL_PASSWORD:-changeme}
""",
"quiet/.env.example": """\
DB_PASSWORD=
SECRET_KEY=change-me
API_TOKEN=<your-token>
STRIPE_KEY=sk_test_xxxxxxxxxxxxxxxxxxxxxxxx
SESSION_SECRET=${SESSION_SECRET}
""",
"quiet/ssh/sshd_config": """\
PasswordAuthentication no
PermitEmptyPasswords no
ChallengeResponseAuthentication no
""",
"quiet/k8s/deploy.yaml": """\
env:
  - name: DB_PASSWORD
    valueFrom:
      secretKeyRef:
        name: db
        key: password
  - name: DB_PASSWORD_FILE
    value: /etc/secrets/db-password
  - name: TOKEN_TTL
    value: "3600"
""",
"quiet/gh/.github/workflows/deploy.yml": """\
env:
  REGISTRY_PASSWORD: ${{ secrets.REGISTRY_PASSWORD }}
  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
jobs:
  deploy:
    steps:
      - uses: docker/login-action@v3
        with:
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
""",
"quiet/ansible/vars.yml": """\
db_user: app
db_password: "{{ vault_db_password }}"
api_token: "{{ lookup('env', 'API_TOKEN') }}"
mysql_root_password: "{{ lookup('password', '/dev/null length=20') }}"
password_length: 20
""",
"quiet/nginx/site.conf": """\
auth_basic "Restricted";
auth_basic_user_file /etc/nginx/.htpasswd;
proxy_set_header Authorization $http_authorization;
""",
"quiet/spring/application.properties": """\
spring.security.user.password=${ADMIN_PASSWORD:}
server.ssl.key-store-password=${KEYSTORE_PASSWORD}
spring.datasource.hikari.password=
management.endpoints.web.exposure.include=health
""",
"quiet/helm/values.yaml": """\
postgresql:
  auth:
    existingSecret: app-db
    secretKeys:
      userPasswordKey: password
  password: ""
redis:
  auth:
    enabled: true
    existingSecretPasswordKey: redis-password
""",
"quiet/helm/templates/secret.yaml": """\
apiVersion: v1
kind: Secret
data:
  password: {{ .Values.password | b64enc | quote }}
  token: {{ required "token" .Values.token | b64enc }}
""",
"quiet/tf/main.tf": """\
resource "aws_db_instance" "db" {
  password = var.db_password
  manage_master_user_password = true
}
variable "db_password" {
  type      = string
  sensitive = true
}
""",
"env/.env.example": """\
DB_PASSWORD=
SECRET_KEY=change-me
API_TOKEN=<your-token>
JWT_SECRET=Xq8vLm2pRt7zKw4NcB5dHs9F<<S
""",
"quiet/settings_env.py": """\
import os
DB_PASSWORD = os.environ["DB_PASSWORD"]
API_TOKEN = os.getenv("API_TOKEN")
password = encryption.password
token = Token.Name.Pseudo
SECRET_KEY = settings.SECRET_KEY
password_field = "password"
""",
"quiet/form.yaml": """\
fields:
  password: required
  password_confirm: required
  password_hint: "at least 12 characters"
  secret: false
""",
"quiet/chart/templates/secret.yaml": """\
apiVersion: v1
kind: Secret
stringData:
  password: {{ .Values.password | quote }}
  token: "{{ .Values.token }}"
""",
"quiet/template.erb": """\
password: <%= @db_password %>
api_key: <%= ENV['API_KEY'] %>
""",
"quiet/Makefile": """\
PASSWORD ?= $(DB_PASSWORD)
TOKEN := $(shell cat token.txt)
""",
"quiet/docs.md": """\
Set the password with `export DB_PASSWORD=...` and the key with
`API_KEY=xxxxxxxxxxxxxxxx`; the example key is AKIAIOSFODNN7EXAMPLE.
    password: "..."
    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
""",
"quiet/app.js": """\
const password = process.env.DB_PASSWORD;
const token = req.headers.authorization;
const apiKey = config.get("apiKey");
""",
}

MARKS = {"<<P": True, "<<S": False}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    labels = []
    for rel, body in FILES.items():
        out = []
        for i, line in enumerate(body.split("\n")):
            for m, fix in MARKS.items():
                if line.endswith(m):
                    line = line[:-len(m)]
                    labels.append({"path": rel, "line": i + 1,
                                   "rule": rel.split("/")[0], "fix": fix})
            out.append(line)
        path = os.path.join(a.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(out))
    with open(os.path.join(a.out, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)


if __name__ == "__main__":
    main()
