# The checks scripts/cluster.sh runs once the cluster is up: each prints one line, PASS or FAIL and what it
# proves, with the last lines of what went wrong under a FAIL. Sourced by cluster.sh after everything is Ready;
# uses its W, KUBECTL, NS, HOST_IP, relay and stage. Counts go into `passed` and `failed`.

passed=0 failed=0
check() { # description command...
  local what=$1
  shift
  if "$@" >"$W/check.out" 2>&1; then
    printf 'PASS %s\n' "$what"
    passed=$((passed + 1))
  else
    printf 'FAIL %s\n' "$what"
    tail -5 "$W/check.out" | cut -c1-300 | sed 's/^/       /'
    failed=$((failed + 1))
  fi
}

# --- helpers ---------------------------------------------------------------------------------------------------
pod_of() { "$KUBECTL" -n "${2:-$NS}" get pods -l "app.kubernetes.io/name=$1" --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}'; }

# tcp_from APP HOST PORT [NAMESPACE] -> prints `open` or why not (refused, timeout, a DNS error), from inside APP's
# pod (the service images all have node)
tcp_from() {
  "$KUBECTL" -n "${4:-$NS}" exec "$(pod_of "$1" "${4:-$NS}")" -- node -e '
    const s = require("net").connect({ host: process.argv[1], port: Number(process.argv[2]) });
    const end = (what) => { console.log(what); process.exit(0); };
    s.setTimeout(4000, () => end("timeout"));
    s.on("connect", () => end("open"));
    s.on("error", (e) => end(e.code || e.message));' "$2" "$3" 2>&1
}
reaches() { local got; got=$(tcp_from "$@"); echo "$got"; [ "$got" = open ]; }
refused() { local got; got=$(tcp_from "$@"); echo "$got"; [ "$got" != open ] && [ "$got" != ENOTFOUND ] && [ "$got" != EAI_AGAIN ]; }

# curl through a controller: mp3converter.com on $EDGE (127.0.0.1, the Ingress; 127.0.0.2, the Gateway API),
# trusting the generated certificate
EDGE=127.0.0.1
edge() { curl -sS --cacert "$W/manifests/overlays/minikube/secrets/tls.crt" --resolve "mp3converter.com:443:$EDGE" --resolve "mp3converter.com:80:$EDGE" "$@"; }

mail_count() { curl -fsS "http://127.0.0.1:$mail_web/email" | node_json 'length'; }
# node_json EXPR: reads JSON on stdin, prints EXPR evaluated on it (as `d`)
node_json() { "$node_bin" -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => { const d = JSON.parse(s); const v = eval(process.argv[1]); console.log(typeof v === "string" ? v : JSON.stringify(v)); });' "d.$1"; }

login() { edge -f -u "georgio@email.com:$seed" -X POST https://mp3converter.com/login; }
# logs in through $EDGE; the token goes into `token` for the checks after it (curl's error under a FAIL)
check_login() {
  token=$(login) || token=
  [ -n "$token" ]
}

# wait_state FID STATE... -> waits (up to 5 minutes) until the job's state is one of STATEs, prints it
wait_state() {
  local fid=$1 state i
  shift
  for ((i = 0; i < 300; i++)); do
    state=$(edge -f -H "Authorization: Bearer $token" "https://mp3converter.com/status?fid=$fid" | node_json state) || true
    for s in "$@"; do [ "$state" = "$s" ] && { echo "$state"; return 0; }; done
    sleep 1
  done
  echo "job $fid still $state" >&2
  return 1
}

# the MP3 a done job made, as its status names it
mp3_of() { edge -f -H "Authorization: Bearer $token" "https://mp3converter.com/status?fid=$1" | node_json mp3_fid; }
# how many emails announce MP3 ID, and the ids they announce
emails_about() { curl -fsS "http://127.0.0.1:$mail_web/email" | node_json "filter((m) => (m.text || '').includes('mp3 file_id: $1 ')).length"; }
mp3_id_in_email() {
  curl -fsS "http://127.0.0.1:$mail_web/email" |
    node_json "filter((m) => (m.text || '').includes('mp3 file_id: $1 ')).map((m) => m.text.match(/mp3 file_id: ([0-9a-f]{24})/)[1]).join(' ')"
}

# how many MP3s the store holds (from the gateway's pod, which may reach MongoDB, with its own driver)
mp3_files() {
  "$KUBECTL" -n "$NS" exec "$(pod_of gateway)" -- node -e '
    const { MongoClient } = require("mongodb");
    MongoClient.connect("mongodb://mongodb:27017").then(async (c) => {
      console.log(await c.db("mp3s").collection("fs.files").countDocuments());
      await c.close();
    });'
}

upload_video() { # file -> video fid
  edge -f -H "Authorization: Bearer $token" -F "file=@$1" https://mp3converter.com/upload | node_json video_fid
}

# --- the checks ------------------------------------------------------------------------------------------------
check_redirect() { # status
  local got
  got=$(edge -o /dev/null -w '%{http_code} %{redirect_url}' http://mp3converter.com/login)
  echo "$got"
  [ "$got" = "$1 https://mp3converter.com/login" ]
}

check_page() {
  local got
  got=$(edge -o "$W/page.html" -w '%{http_code} %{content_type}' https://mp3converter.com/)
  echo "$got"
  [[ $got == "200 text/html"* ]] && grep -qi '<html' "$W/page.html"
}

check_flow() {
  local fid mp3 i
  fid=$(upload_video "$W/video.mp4")
  [ -n "$fid" ] || return 1
  wait_state "$fid" done failed | grep -qx done || return 1
  for ((i = 0; i < 60; i++)); do
    mp3=$(mp3_id_in_email "$(mp3_of "$fid")")
    [ -n "$mp3" ] && break
    sleep 1
  done
  echo "video $fid, mp3 $mp3 (from the email)"
  [ -n "$mp3" ] || return 1
  edge -f -H "Authorization: Bearer $token" -o "$W/download.mp3" "https://mp3converter.com/download?fid=$mp3"
  ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$W/download.mp3" | tee /dev/stderr | grep -qx mp3
}

# tus: creation, half the bytes, the offset asked again (a resume), the rest; the Location is the gateway's
# path, so that the client stays on https://mp3converter.com
check_resumable() {
  local size half location offset fid
  size=$(stat -c %s "$W/big.mkv") half=$((size / 2))
  location=$(edge -f -D - -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Tus-Resumable: 1.0.0' \
    -H "Upload-Length: $size" -H "Upload-Metadata: filename $(printf big.mkv | base64)" https://mp3converter.com/uploads |
    tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  echo "Location: $location ($((size / 1000000)) MB)"
  [[ $location == /uploads/* || $location == https://mp3converter.com/uploads/* ]] || return 1
  location=https://mp3converter.com/uploads/${location##*/}
  head -c "$half" "$W/big.mkv" | edge -f -o /dev/null -X PATCH -H "Authorization: Bearer $token" -H 'Tus-Resumable: 1.0.0' \
    -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' --data-binary @- "$location"
  offset=$(edge -f -I -H "Authorization: Bearer $token" -H 'Tus-Resumable: 1.0.0' "$location" | tr -d '\r' | sed -n 's/^[Uu]pload-[Oo]ffset: //p')
  echo "resumed at $offset"
  [ "$offset" = "$half" ] || return 1
  tail -c +"$((half + 1))" "$W/big.mkv" | edge -f -o /dev/null -X PATCH -H "Authorization: Bearer $token" -H 'Tus-Resumable: 1.0.0' \
    -H "Upload-Offset: $half" -H 'Content-Type: application/offset+octet-stream' --data-binary @- "$location"
  fid=${location##*/}
  wait_state "$fid" done failed | grep -qx done
}

# /events: a job's events arrive while it runs (its `done` before the stream is closed, and before the
# status says done for long), not when a buffer fills
check_events() {
  local fid i
  edge -N -H "Authorization: Bearer $token" https://mp3converter.com/events >"$W/events.txt" 2>&1 &
  local curl_pid=$!
  for ((i = 0; i < 50; i++)); do [ -s "$W/events.txt" ] || sleep 0.2; done
  fid=$(upload_video "$W/video.mp4")
  for ((i = 0; i < 300; i++)); do
    grep -q "\"$fid\".*\"done\"\|\"done\".*\"$fid\"" "$W/events.txt" && break
    sleep 1
  done
  kill "$curl_pid" 2>/dev/null || true
  wait "$curl_pid" 2>/dev/null || true
  grep -c "$fid" "$W/events.txt" | sed 's/$/ events of the job came through the stream/'
  grep -q "\"$fid\".*\"done\"\|\"done\".*\"$fid\"" "$W/events.txt"
}

converter_replicas() { "$KUBECTL" -n "$NS" get deployment converter -o jsonpath='{.spec.replicas}'; }

# KEDA: twenty jobs on `video` take the converter to its maximum (8) and, once the queue is empty, back
# to one; every job ends done with one email (a pod stopped by the scale-down finishes its job first, or hands
# it back, and it is done once)
check_keda() {
  local max fids=() fid i top=0 n done_count=0 emails
  max=$("$KUBECTL" -n "$NS" get scaledobject converter -o jsonpath='{.spec.maxReplicaCount}')
  # four at a time, of an hour of audio each in a few MB (a converter needs some 40 s for one): one after the
  # other, the converter keeps up with the uploads and the queue never grows
  local uploads=()
  for ((i = 0; i < 20; i++)); do
    upload_video "$W/keda.mp4" >"$W/keda-fid.$i" &
    uploads+=($!)
    if ((${#uploads[@]} == 4)); then
      wait "${uploads[@]}" || true
      uploads=()
    fi
  done
  for ((i = 0; i < 20; i++)); do fids+=("$(cat "$W/keda-fid.$i")"); done
  # a refused upload is a job that never comes: said now, not after waiting minutes for its state
  local refused=0
  for fid in "${fids[@]}"; do [ -n "$fid" ] || refused=$((refused + 1)); done
  ((refused == 0)) || { echo "$refused of 20 uploads refused"; return 1; }
  local deadline=$((SECONDS + 300))
  while ((SECONDS < deadline)); do
    n=$(converter_replicas)
    ((n > top)) && top=$n
    ((top >= max)) && break
    sleep 1
  done
  echo "converter replicas: up to $top of $max"
  ((top >= max)) || return 1
  for fid in "${fids[@]}"; do wait_state "$fid" done failed | grep -qx done && done_count=$((done_count + 1)); done
  echo "$done_count of ${#fids[@]} jobs done"
  ((done_count == ${#fids[@]})) || return 1
  deadline=$((SECONDS + 300))
  while ((SECONDS < deadline)); do
    [ "$(converter_replicas)" = 1 ] && break
    sleep 1
  done
  echo "converter replicas after the queue emptied: $(converter_replicas)"
  [ "$(converter_replicas)" = 1 ] || return 1
  for fid in "${fids[@]}"; do
    emails=$(emails_about "$(mp3_of "$fid")")
    [ "$emails" = 1 ] || { echo "job $fid: $emails emails"; return 1; }
  done
  echo "one email per job"
}

# a converter pod deleted in the middle of a conversion: the job still ends done, with one MP3 and one email
check_pod_deleted() {
  local fid pod state mp3 before
  before=$(mp3_files)
  fid=$(upload_video "$W/long.mp4")
  wait_state "$fid" converting done >/dev/null || return 1
  pod=$("$KUBECTL" -n "$NS" get pods -l app.kubernetes.io/name=converter -o jsonpath='{.items[0].metadata.name}')
  "$KUBECTL" -n "$NS" delete pod "$pod" --wait=false
  state=$(wait_state "$fid" done failed) || return 1
  echo "job $fid: $state after $pod was deleted"
  [ "$state" = done ] || return 1
  mp3=$(mp3_of "$fid")
  for ((i = 0; i < 60; i++)); do [ "$(emails_about "$mp3")" -ge 1 ] && break; sleep 1; done
  sleep 5 # a second email, were one to come, comes right after the first
  # one MP3: the job names one, and no email announces another for this upload
  echo "MP3 $mp3, emails: $(emails_about "$mp3"), MP3s added to the store: $(($(mp3_files) - before))"
  [ "$(emails_about "$mp3")" = 1 ] && [ "$(($(mp3_files) - before))" = 1 ]
}

run_checks() {
  stage "the checks"
  local ingress_ip gateway_api_ip
  ingress_ip=$("$KUBECTL" -n ingress-nginx get service ingress-nginx-controller -o jsonpath='{.spec.clusterIP}')
  gateway_api_ip=$("$KUBECTL" -n ingress-nginx get service gateway-api-controller -o jsonpath='{.spec.clusterIP}')
  # the load balancer in front of the controllers: loopback relays to their Services
  relay 127.0.0.1 80 "$ingress_ip:80"
  relay 127.0.0.1 443 "$ingress_ip:443"
  relay 127.0.0.2 80 "$gateway_api_ip:80"
  relay 127.0.0.2 443 "$gateway_api_ip:443"
  wait_port 127.0.0.1 443 10 "the relay to the Ingress controller"
  seed=$(sed -n 's/^SEED_USER_PASSWORD=//p' "$W/manifests/overlays/minikube/secrets/auth.env")
  ffmpeg -v error -f lavfi -i testsrc=duration=3:size=160x120 -f lavfi -i sine=duration=3 -shortest -y "$W/video.mp4"
  # a few hundred MB that take little to make and to convert: raw frames, a tone
  ffmpeg -v error -f lavfi -i testsrc=duration=100:size=320x240:rate=25 -f lavfi -i sine=duration=100 -shortest \
    -c:v rawvideo -pix_fmt yuv420p -c:a pcm_s16le -y "$W/big.mkv"
  # jobs that take a converter some 40 s and some 20 s
  ffmpeg -v error -f lavfi -i testsrc=duration=3600:size=64x48:rate=1 -f lavfi -i sine=duration=3600 -shortest \
    -c:a aac -b:a 16k -ac 1 -y "$W/keda.mp4"
  ffmpeg -v error -f lavfi -i testsrc=duration=1800:size=64x48:rate=1 -f lavfi -i sine=duration=1800 -shortest -y "$W/long.mp4"

  check "Ingress: plain HTTP is redirected to HTTPS (308)" check_redirect 308
  check "Ingress: login over HTTPS with the generated certificate" check_login
  check "Ingress: the page loads" check_page
  check "Ingress: upload, status, download by the id in the email (an MP3)" check_flow
  check "Ingress: a resumable upload of $(($(stat -c %s "$W/big.mkv") / 1000000)) MB, resumed halfway, converted" check_resumable
  check "Ingress: /events streams a job's events as they happen" check_events

  check "NetworkPolicy: converter -> auth refused" refused converter auth 5000
  check "NetworkPolicy: converter -> MySQL refused" refused converter mysql 3306
  check "NetworkPolicy: converter -> gateway refused" refused converter gateway 8080
  check "NetworkPolicy: converter -> MongoDB answers" reaches converter mongodb 27017
  check "NetworkPolicy: converter -> RabbitMQ answers" reaches converter rabbitmq 5672
  check "NetworkPolicy: gateway -> MySQL refused" refused gateway mysql 3306
  check "NetworkPolicy: gateway -> auth answers" reaches gateway auth 5000
  check "NetworkPolicy: notification -> auth refused" refused notification auth 5000
  check "NetworkPolicy: auth -> MySQL answers" reaches auth mysql 3306
  check "NetworkPolicy: a pod outside ingress-nginx -> gateway refused" refused probe gateway.$NS 8080 default

  check "KEDA: 20 jobs on video scale the converter to its maximum and back to one, one email each" check_keda
  check "A converter pod deleted mid-conversion: the job ends done, one MP3, one email" check_pod_deleted

  EDGE=127.0.0.2
  check "Gateway API (components/gateway-api): login over HTTPS" check_login
  check "Gateway API: plain HTTP is redirected to HTTPS (301)" check_redirect 301
  check "Gateway API: upload, status, download by the id in the email" check_flow
  EDGE=127.0.0.1
  token=$(login) || token=
}
