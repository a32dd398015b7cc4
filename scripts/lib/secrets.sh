# generate_secrets DIR: every secret a cluster deployment needs, random, in DIR (git-ignored when DIR is an
# overlay's secrets/ folder). Used by scripts/minikube.sh, and by the manifests test so that what it checks
# is exactly what gets deployed. Needs only bash and openssl.

rand_secret() { openssl rand -base64 48 | tr -d '/+=\n' | cut -c1-32; }

# RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)) with 4 random bytes of salt.
rabbit_hash() {
  local salt digest
  salt=$(openssl rand -hex 4)
  digest=$({ printf "$(sed 's/../\\x&/g' <<<"$salt")"; printf '%s' "$1"; } | openssl dgst -sha256 -hex | sed 's/.*= *//')
  printf "$(sed 's/../\\x&/g' <<<"$salt$digest")" | openssl base64 -A
}

# RabbitMQ permissions, one line per user: configure, write, read. Each is a regular expression over queue and
# exchange names in vhost "/":
#   configure  declare (and so also delete) a queue or an exchange
#   write      publish to an exchange (the default exchange is `amq.default`); be the queue end of a binding
#   read       consume from a queue; be the exchange end of a binding; declare a queue that dead-letters
# Publishing through the default exchange needs write on `amq.default`, which RabbitMQ cannot narrow to some
# queues (topic permissions apply to topic exchanges only): every service that publishes, and every worker
# does (its retries and dead letters go through it, and its retry queues dead-letter through it, which takes
# write on it to declare), can reach any queue by name. The workers check a message's owner against the job
# store for that reason. What the regexes do limit is who may publish to the job exchanges, and who may
# consume, declare, delete and bind what. Server-named queues are `amq.gen-*`. A new queue or exchange goes
# into the alternation of each user that needs it: `^(a|b|new)$`.
RABBITMQ_PERMISSIONS=(
  # declares and publishes to `video`; publishes to `job.control` and (queued, cancelled) to `job.events`;
  # binds its own queue to `job.events`
  'gateway     ^(video|job\.control|job\.events|amq\.gen-.*)$  ^(amq\.default|job\.control|job\.events|amq\.gen-.*)$  ^(job\.events|amq\.gen-.*)$'
  # consumes `video` with its retry and dead-letter queues (its dead-letter command reads and replays
  # `video.dead`); declares `mp3` and `conversion.failed` so that no result is dropped before the notification
  # service first starts; publishes to them and to `job.events`; binds its own queue to `job.control`
  'converter   ^(video(\.retry\..+|\.dead)?|mp3|conversion\.failed|job\.events|job\.control|amq\.gen-.*)$  ^(amq\.default|job\.events|amq\.gen-.*)$  ^(video(\.retry\..+|\.dead)?|job\.control|amq\.gen-.*)$'
  # consumes `mp3` and `conversion.failed`, with their retry and dead-letter queues (read by its dead-letter command)
  'notification  ^(mp3|conversion\.failed)(\.retry\..+|\.dead)?$  ^amq\.default$  ^(mp3|conversion\.failed)(\.retry\..+|\.dead)?$'
  # declares and consumes its own queue of job events with its retry and dead-letter queues, and binds it to
  # `job.events` (write on the queue, read on the exchange; the exchange is only checked, never declared);
  # publishes nothing but its own retries and dead letters
  'webhooks    ^webhooks\.job-events(\.retry\..+|\.dead)?$  ^(amq\.default|webhooks\.job-events)$  ^(job\.events|webhooks\.job-events(\.retry\..+|\.dead)?)$'
  # KEDA only reads queue lengths (a passive declare, which needs no permission)
  'keda        ^$  ^$  ^$'
  # people, through the management UI; no service uses it
  'admin       .*  .*  .*'
)

# Routing keys on the topic exchanges, one line per user and exchange: exchange, write, read. Write narrows
# the keys a user may publish with; read (matched against binding keys) is left open, as whoever may bind
# there may read every message anyway. Only the publishers named above may publish to the exchange at all.
JOB_EVENT_KEYS='^job\.(queued|converting|progress|done|failed|cancelled)$'
RABBITMQ_TOPIC_PERMISSIONS=(
  # the job events it records (queued, cancelled); cancel requests only
  "gateway     job.events   $JOB_EVENT_KEYS  .*"
  'gateway     job.control  ^job\.cancel$  .*'
  # job events only, never a control message
  "converter   job.events   $JOB_EVENT_KEYS  .*"
  'converter   job.control  ^$  .*'
  # publishes nothing there; binds its queue for the ends of jobs only (read is matched against binding keys)
  'webhooks    job.events   ^$  ^job\.(done|failed|cancelled)$'
)

# JSON string escaping for the regexes (backslashes and quotes)
json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

rabbitmq_definitions() { # user=password...
  local users=() perms=() topics=() kv name tags line u c w r x
  for kv in "$@"; do
    name=${kv%%=*} tags='[]'
    [ "$name" = admin ] && tags='["administrator"]'
    users+=("    {\"name\": \"$name\", \"password_hash\": \"$(rabbit_hash "${kv#*=}")\", \"hashing_algorithm\": \"rabbit_password_hashing_sha256\", \"tags\": $tags}")
  done
  for line in "${RABBITMQ_PERMISSIONS[@]}"; do
    read -r u c w r <<<"$line"
    perms+=("    {\"user\": \"$u\", \"vhost\": \"/\", \"configure\": $(json_str "$c"), \"write\": $(json_str "$w"), \"read\": $(json_str "$r")}")
  done
  for line in "${RABBITMQ_TOPIC_PERMISSIONS[@]}"; do
    read -r u x w r <<<"$line"
    topics+=("    {\"user\": \"$u\", \"vhost\": \"/\", \"exchange\": \"$x\", \"write\": $(json_str "$w"), \"read\": $(json_str "$r")}")
  done
  local IFS=$'\n'
  printf '{\n  "vhosts": [{"name": "/"}],\n  "users": [\n%s\n  ],\n  "permissions": [\n%s\n  ],\n  "topic_permissions": [\n%s\n  ]\n}\n' \
    "$(sed '$!s/$/,/' <<<"${users[*]}")" "$(sed '$!s/$/,/' <<<"${perms[*]}")" "$(sed '$!s/$/,/' <<<"${topics[*]}")"
}

SECRET_FILES=(mysql.env auth.env mongodb.env gateway.env converter.env notification.env webhooks.env rabbitmq-keda.env
  rabbitmq-admin.env rabbitmq-definitions.json tls.crt tls.key)

generate_secrets() { # DIR [seed user password]
  local d=$1 seed=${2:-$(rand_secret)} f
  mkdir -p "$d"
  local mysql_pw mongo_root mongo_gw mongo_cv mongo_nt mongo_wh rb_gw rb_cv rb_nt rb_wh rb_keda rb_admin
  mysql_pw=$(rand_secret) mongo_root=$(rand_secret) mongo_gw=$(rand_secret) mongo_cv=$(rand_secret) mongo_nt=$(rand_secret)
  mongo_wh=$(rand_secret) rb_gw=$(rand_secret) rb_cv=$(rand_secret) rb_nt=$(rand_secret) rb_wh=$(rand_secret) rb_keda=$(rand_secret)
  rb_admin=$(rand_secret)
  local mongo=mongodb:27017/?authSource=admin rabbit=rabbitmq:5672 link_secret
  link_secret=$(openssl rand -base64 48 | tr -d '\n')
  (
    umask 077
    printf 'MYSQL_ROOT_PASSWORD=%s\nMYSQL_PASSWORD=%s\n' "$(rand_secret)" "$mysql_pw" >"$d/mysql.env"
    printf 'MYSQL_PASSWORD=%s\nJWT_SECRET=%s\nSEED_USER_EMAIL=georgio@email.com\nSEED_USER_PASSWORD=%s\n' \
      "$mysql_pw" "$(openssl rand -base64 48 | tr -d '\n')" "$seed" >"$d/auth.env"
    printf 'MONGO_INITDB_ROOT_USERNAME=root\nMONGO_INITDB_ROOT_PASSWORD=%s\nMONGODB_GATEWAY_PASSWORD=%s\nMONGODB_CONVERTER_PASSWORD=%s\nMONGODB_NOTIFICATION_PASSWORD=%s\nMONGODB_WEBHOOKS_PASSWORD=%s\n' \
      "$mongo_root" "$mongo_gw" "$mongo_cv" "$mongo_nt" "$mongo_wh" >"$d/mongodb.env"
    # DOWNLOAD_LINK_SECRET: the gateway checks the links the notification service signs, so both have it
    printf 'MONGODB_URI=mongodb://gateway:%s@%s\nRABBITMQ_URL=amqp://gateway:%s@%s\nDOWNLOAD_LINK_SECRET=%s\n' "$mongo_gw" "$mongo" "$rb_gw" "$rabbit" "$link_secret" >"$d/gateway.env"
    printf 'MONGODB_URI=mongodb://converter:%s@%s\nRABBITMQ_URL=amqp://converter:%s@%s\n' "$mongo_cv" "$mongo" "$rb_cv" "$rabbit" >"$d/converter.env"
    # SMTP_USER/SMTP_PASSWORD (or GMAIL_ADDRESS/GMAIL_PASSWORD, an app password) for a real mail server
    printf 'MONGODB_URI=mongodb://notification:%s@%s\nRABBITMQ_URL=amqp://notification:%s@%s\nDOWNLOAD_LINK_SECRET=%s\nSMTP_USER=\nSMTP_PASSWORD=\nGMAIL_ADDRESS=\nGMAIL_PASSWORD=\n' \
      "$mongo_nt" "$mongo" "$rb_nt" "$rabbit" "$link_secret" >"$d/notification.env"
    printf 'MONGODB_URI=mongodb://webhooks:%s@%s\nRABBITMQ_URL=amqp://webhooks:%s@%s\n' "$mongo_wh" "$mongo" "$rb_wh" "$rabbit" >"$d/webhooks.env"
    printf 'host=amqp://keda:%s@%s\n' "$rb_keda" "$rabbit" >"$d/rabbitmq-keda.env"
    printf '# the management UI login (not deployed anywhere else)\nRABBITMQ_ADMIN_USER=admin\nRABBITMQ_ADMIN_PASSWORD=%s\n' "$rb_admin" >"$d/rabbitmq-admin.env"
    rabbitmq_definitions gateway="$rb_gw" converter="$rb_cv" notification="$rb_nt" webhooks="$rb_wh" keda="$rb_keda" admin="$rb_admin" \
      >"$d/rabbitmq-definitions.json"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/tls.key" -out "$d/tls.crt" -days 365 -subj /CN=mp3converter.com \
      -addext 'subjectAltName=DNS:mp3converter.com,DNS:rabbitmq-manager.com,DNS:mail.mp3converter.com' >/dev/null 2>&1
  ) || die "could not write the secrets into $d"
  for f in "${SECRET_FILES[@]}"; do [ -s "$d/$f" ] || die "generating $d/$f failed"; done
}

# true when DIR holds every secret file
secrets_complete() { local f; for f in "${SECRET_FILES[@]}"; do [ -s "$1/$f" ] || return 1; done; }
