#!/usr/bin/env bats
# vigil run --publish/--subscribe and vigil wait --publish, against a real
# mosquitto started here on 127.0.0.1, a free port and a persistence file
# of its own; never a mock broker.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers

setup_file() {
	[ "${VIGIL_MQTT:-1}" = 1 ] || skip "vigil is built without MQTT"
	command -v mosquitto >/dev/null || skip "no mosquitto (the bootstrap installs it)"
}

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-mqtt.XXXXXX")
	W=$TEST_DIR/w
	OUT=$TEST_DIR/out
	ERR=$TEST_DIR/err
	export LOG=$TEST_DIR/log
	mkdir "$W"
	: >"$LOG"
	cd "$TEST_DIR" || return 1
	VIGIL_PID=
	BROKER_PID=
	PIDS=()
	PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	URL=mqtt://127.0.0.1:$PORT
	mkdir "$TEST_DIR/broker"
}

teardown() {
	local p
	for p in "${PIDS[@]}" ${VIGIL_PID:-}; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}" ${VIGIL_PID:-}; do
		wait "$p" 2>/dev/null
	done
	stop_broker
	cd / && rm -rf "$TEST_DIR"
}

# start_broker [CONFIG LINE]...: mosquitto on $PORT, its state saved in
# $TEST_DIR/broker (as root it would drop to the mosquitto user, who
# cannot write there: it stays root); once it listens.
start_broker() {
	local conf=$TEST_DIR/broker/mosquitto.conf line
	if [ ! -f "$conf" ] || [ $# -gt 0 ]; then
		{
			echo "listener $PORT 127.0.0.1"
			echo "persistence true"
			echo "persistence_location $TEST_DIR/broker/"
			echo "log_dest stderr"
			echo "log_type error"
			echo "log_type warning"
			echo "log_type notice"
			echo "log_type information"
			echo "log_type subscribe"
			echo "user root"
			echo "max_queued_messages 0"
			for line in "$@"; do echo "$line"; done
			grep -q '^password_file\|^require_certificate\|^allow_anonymous' <(printf '%s\n' "$@") ||
				echo "allow_anonymous true"
		} >"$conf"
	fi
	: >>"$TEST_DIR/broker/log"
	local before
	before=$(grep -c ' running$' "$TEST_DIR/broker/log" || true)
	mosquitto -c "$conf" >>"$TEST_DIR/broker/log" 2>&1 3>&- &
	BROKER_PID=$!
	local end=$((SECONDS + 30))
	until [ "$(grep -c ' running$' "$TEST_DIR/broker/log" || true)" -gt "$before" ]; do
		[ $SECONDS -lt $end ] || { cat "$TEST_DIR/broker/log" >&2; return 1; }
		kill -0 "$BROKER_PID" 2>/dev/null || { cat "$TEST_DIR/broker/log" >&2; return 1; }
		sleep 0.05
	done
}

# stop_broker [SIGNAL]: SIGTERM by default, which saves its state.
stop_broker() {
	if [ -n "${BROKER_PID:-}" ]; then
		kill "-${1:-TERM}" "$BROKER_PID" 2>/dev/null
		wait "$BROKER_PID" 2>/dev/null || true
		BROKER_PID=
	fi
	return 0
}

# sub TOPIC N: mosquitto_sub's first N messages on TOPIC into $OUT.sub,
# once it is subscribed (its pid in SUB_PID).
sub() {
	: >"$OUT.sub"
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -t "$1" -C "$2" -W 120 -i "test-sub-$$" \
		>"$OUT.sub" 2>"$ERR.sub" 3>&- &
	SUB_PID=$!
	PIDS+=("$SUB_PID")
	# subscribed: the broker says so
	wait_for_line "$TEST_DIR/broker/log" "test-sub-$$ 1 " 20
}

# start_bg NAME ARGS...: vigil ARGS in the background, stderr to $ERR.NAME,
# once it says "watching:"; its pid in the variable NAME.
start_bg() {
	local name=$1
	shift
	: >"$ERR.$name"
	"$VIGIL" "$@" >"$OUT.$name" 2>"$ERR.$name" 3>&- &
	printf -v "$name" '%s' $!
	PIDS+=($!)
	wait_for_line "$ERR.$name" 'watching: ' 20
}

# subscribed NAME: wait until vigil NAME is subscribed.
subscribed() {
	wait_for_line "$ERR.$1" 'subscribed to' 30
}

@test "publish: each settled file is one QoS 1 message, with the --json schema, exactly" {
	start_broker
	sub 'vigil/#' 2
	start_run --settle 0 --publish "$URL/vigil/{host}/{rule}" "$W"
	wait_for_line "$ERR" "connected to '$URL'"
	printf hello >"$W/a"
	# a's message first: read with the move in one go, a waiting path
	# would be renamed to b in place (one message, not two)
	wait_for_line "$OUT.sub" "^.\"path\":\"$W/a\"" 30
	mv "$W/a" "$W/b"
	wait "$SUB_PID"
	local host
	host=$(hostname)
	/usr/bin/python3 - "$OUT.sub" "$W" "$host" <<'PY'
import json, os, sys, time
out, w, host = sys.argv[1], sys.argv[2], sys.argv[3]
msgs = [json.loads(l) for l in open(out, encoding="utf-8")]
st = os.stat(w + "/b")
mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9)) + ".%09dZ" % (st.st_mtime_ns % 10**9)
want = [
    {"path": w + "/a", "events": ["CLOSE_WRITE", "CLOSE"], "host": host, "rule": "run"},
    {"path": w + "/b", "events": ["MOVED_TO"], "from": w + "/a", "size": 5, "mtime": mtime, "host": host, "rule": "run"},
]
# a was there when its message was made (the move waited for it)
want[0]["size"] = 5
want[0]["mtime"] = mtime
if msgs != want:
    sys.exit("expected %r\nactual   %r" % (want, msgs))
PY
	# the order of the keys too: the bytes of one
	grep -q "^{\"path\":\"$W/b\",\"events\":\[\"MOVED_TO\"\],\"from\":\"$W/a\",\"size\":5,\"mtime\":\"[0-9T:.-]*Z\",\"host\":\"$host\",\"rule\":\"run\"}\$" "$OUT.sub"
	grep -q "\[run\] published '$W/b' to 'vigil/$host/run' in " "$ERR"
}

@test "subscribe: files published by another vigil run here, mapped, names with a newline and invalid UTF-8 exactly" {
	start_broker
	mkdir "$TEST_DIR/here"
	start_bg worker run --state "$TEST_DIR/state" --subscribe "$URL/in/#" \
		--map "$W=$TEST_DIR/here" -- sh -c "$REC" rec {}
	subscribed worker
	start_run --settle 0 --publish "$URL/in/{host}" "$W"
	local names=($'new\nline' $'bad\xff\xfeutf8' 'plain' "quote'\"" ' lead')
	# the shared folder, as this machine has it
	for n in "${names[@]}"; do printf x >"$TEST_DIR/here/$n"; done
	for n in "${names[@]}"; do printf x >"$W/$n"; done
	wait_distinct "$LOG" "${#names[@]}" 30
	local want got
	want=$(for n in "${names[@]}"; do printf '%s|\n' "$TEST_DIR/here/$n"; done | sort)
	got=$(recorded | sort)
	[ "$want" = "$got" ] || { diff <(echo "$want") <(echo "$got") | cat -A >&2; return 1; }
	# kept in the journal as a broker's (source 1), the bytes as they are
	expect_eq "rows" "${#names[@]}|1" "$(sqlite3 -readonly "$TEST_DIR/state/vigil.db" \
		'select count(*), min(source) from paths')"
	sqlite3 -readonly "$TEST_DIR/state/vigil.db" "select hex(path) from paths" |
		grep -q "$(printf '%s' "$TEST_DIR/here/bad" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)FFFE"
}

@test "wait --publish: each event is its --json object with host; a subscribed vigil run runs on it; without -m it exits once the broker has it" {
	start_broker
	mkdir "$TEST_DIR/here"
	: >"$TEST_DIR/here/a"
	start_bg worker run --subscribe "$URL/ev/#" --map "$W=$TEST_DIR/here" --settle 0 \
		-- sh -c "$REC" rec {}
	subscribed worker
	sub 'ev/#' 1
	"$VIGIL" wait -e close_write --publish "$URL/ev/{host}" "$W" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" "connected to '$URL' \(MQTT 5, no session kept\)"
	: >"$W/a"
	wait "$VIGIL_PID"
	VIGIL_PID=
	wait "$SUB_PID"
	local host
	host=$(hostname)
	grep -q "^{\"path\":\"$W/a\",\"dir\":\"$W/\",\"name\":\"a\",\"events\":\[\"CLOSE_WRITE\",\"CLOSE\"\],\"cookie\":0,\"synthetic\":false,\"pid\":null,\"comm\":null,\"time\":\"[0-9T:.-]*Z\",\"host\":\"$host\"}\$" "$OUT.sub" ||
		{ cat "$OUT.sub" >&2; return 1; }
	expect_eq "stdout" "" "$(cat "$OUT")"
	wait_for_line "$LOG" "here/a"
	expect_eq "run on" "$TEST_DIR/here/a|" "$(recorded)"
}

@test "3 workers on a shared subscription split 3,000 files, each handled once" {
	[ -x "$APPENDER" ] || skip "no APPENDER"
	start_broker
	local k
	for k in 1 2 3; do
		start_bg "w$k" run --state "$TEST_DIR/state$k" --subscribe "$URL/inbox" --share workers \
			--batch 100 --batch-wait 200ms -- "$APPENDER" "$LOG.$k" {}
		subscribed "w$k"
		: >>"$LOG.$k"
	done
	start_run --settle 0 --publish "$URL/inbox" "$W"
	wait_for_line "$ERR" "connected to"
	mkdir "$TEST_DIR/stage"
	for ((k = 0; k < 3000; k++)); do : >"$TEST_DIR/stage/f$k"; done
	mv "$TEST_DIR/stage/"* "$W/"
	cat "$LOG.1" "$LOG.2" "$LOG.3" >"$LOG"
	local end=$((SECONDS + 120))
	until [ "$(cat "$LOG.1" "$LOG.2" "$LOG.3" | wc -l)" -ge 3000 ]; do
		[ $SECONDS -lt $end ] || break
		timeout 1 tail -q -n 0 -f "$LOG.1" "$LOG.2" "$LOG.3" 2>/dev/null | head -n 1 >/dev/null || true
	done
	cat "$LOG.1" "$LOG.2" "$LOG.3" >"$LOG"
	local n1 n2 n3
	n1=$(wc -l <"$LOG.1") n2=$(wc -l <"$LOG.2") n3=$(wc -l <"$LOG.3")
	echo "# split: $n1 / $n2 / $n3" >&3
	expect_eq "handled" 3000 "$(sort -u "$LOG" | wc -l)"
	expect_eq "handled in all" 3000 "$(wc -l <"$LOG")"
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ "$n3" -gt 0 ]
}

# handled FILES...: how many lines the files hold, and how many distinct.
handled() {
	cat "$@" | sort | uniq -c | awk '{ n += $1; d++ } END { print n + 0, d + 0 }'
}

# wait_handled N SECONDS FILES...: until N distinct lines are in FILES.
wait_handled() {
	local n=$1 end=$((SECONDS + $2)) got
	shift 2
	while got=$(cat "$@" | sort -u | wc -l) && [ "$got" -lt "$n" ]; do
		if [ $SECONDS -ge $end ]; then
			echo "timed out: $got of $n handled" >&2
			tail -n 20 "$ERR"* >&2
			return 1
		fi
		timeout 1 tail -q -n 0 -f "$@" 2>/dev/null | head -n 1 >/dev/null || true
	done
}

@test "the broker stopped and restarted mid-stream: nothing lost, twice only what was in flight" {
	[ -x "$APPENDER" ] || skip "no APPENDER"
	start_broker
	start_bg worker run --state "$TEST_DIR/wstate" --subscribe "$URL/in" --batch 50 \
		--batch-wait 100ms -- "$APPENDER" "$LOG" {}
	subscribed worker
	start_run --state "$TEST_DIR/pstate" --settle 0 --publish "$URL/in" "$W"
	wait_for_line "$ERR" "connected to"
	local i
	for ((i = 0; i < 400; i++)); do : >"$W/a$i"; done
	# mid-stream: messages in flight each way, and some still to send
	stop_broker TERM
	for ((i = 0; i < 300; i++)); do : >"$W/b$i"; done
	wait_for_line "$ERR" "lost the connection to '$URL'"
	start_broker
	for ((i = 0; i < 300; i++)); do : >"$W/c$i"; done
	wait_handled 1000 120 "$LOG"
	local total distinct
	read -r total distinct < <(handled "$LOG")
	echo "# 1000 files across a broker restart: $distinct handled, $((total - distinct)) twice" >&3
	expect_eq "handled" 1000 "$distinct"
	# QoS 1 sends again what was not acknowledged: at most what is in
	# flight each way (100 messages) at the restart
	[ $((total - distinct)) -le 200 ]
	grep -q "\[run\] connected to '$URL' (MQTT 5, session resumed), subscribed to 'in'" "$ERR.worker"
}

@test "a worker killed with SIGKILL mid-stream: its files are handled by the other or on its return" {
	[ -x "$APPENDER" ] || skip "no APPENDER"
	start_broker
	local k i
	for k in 1 2; do
		: >"$LOG.$k"
		start_bg "w$k" run --state "$TEST_DIR/s$k" --subscribe "$URL/in" --share g \
			-- "$APPENDER" "$LOG.$k" {}
		subscribed "w$k"
	done
	start_run --settle 0 --publish "$URL/in" "$W"
	wait_for_line "$ERR" "connected to"
	for ((i = 0; i < 300; i++)); do : >"$W/a$i"; done
	wait_for_lines "$LOG.2" . 20 30
	kill -KILL "$w2"
	wait "$w2" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do : >"$W/b$i"; done
	# its messages wait for it in its session; its journal has the rest
	start_bg w2 run --state "$TEST_DIR/s2" --subscribe "$URL/in" --share g \
		-- "$APPENDER" "$LOG.2" {}
	wait_for_line "$ERR.w2" "connected to '$URL' \(MQTT 5, session resumed\), subscribed" 30
	wait_handled 600 120 "$LOG.1" "$LOG.2"
	local total distinct
	read -r total distinct < <(handled "$LOG.1" "$LOG.2")
	echo "# 600 files, a worker killed: $distinct handled, $((total - distinct)) twice" >&3
	expect_eq "handled" 600 "$distinct"
	# twice: only what the killed one had in flight (its job, and what it
	# had received and not yet acknowledged)
	[ $((total - distinct)) -le 101 ]
}

@test "the broker down at start: retried with backoff, said once, connected once it is up" {
	# a listener's session, kept by the broker while it is down: what vigil
	# publishes whenever its next attempt comes waits there for it
	start_broker
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -c -i early-sub -t t -E
	stop_broker
	start_run --settle 0 --publish "$URL/t" "$W"
	wait_for_line "$ERR" "\[run\] cannot connect to '$URL': connection refused; trying again after 0\.5s, then less and less often \(every 60s at most\)"
	echo 1 >"$W/early"
	start_broker
	# (its attempts at most a minute apart: however late the broker came)
	wait_for_line "$ERR" "\[run\] connected to '$URL' \(MQTT 5, new session\)" 90
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -c -i early-sub -t t -C 1 -W 120 >"$OUT.sub"
	grep -q "\"path\":\"$W/early\"" "$OUT.sub"
	expect_eq "lines while it was down" 1 "$(grep -c 'cannot connect' "$ERR")"
}

@test "bad URLs, and a password on the command line, are refused in one line" {
	run -1 "$VIGIL" run --publish "http://h/t" "$W"
	expect_eq "scheme" "vigil run: '--publish': 'http://h/t' is not a broker URL; give mqtt://HOST[:PORT]/TOPIC, or mqtts:// for TLS" "$output"
	run -1 "$VIGIL" run --publish "mqtt://h:99999/t" "$W"
	expect_eq "port" "vigil run: '--publish': 'mqtt://h:99999/t' has a port that is not a number from 1 to 65535" "$output"
	run -1 "$VIGIL" run --publish "mqtt://u:secret@h/t" "$W"
	expect_eq "password" "vigil run: '--publish': 'mqtt://u:secret@h/t' holds a password; give it in a file, with --mqtt-auth FILE, never on the command line" "$output"
	run -1 "$VIGIL" run --publish "mqtt://h/a/#" "$W"
	expect_eq "wildcard" "vigil run: '--publish': 'mqtt://h/a/#' a topic to publish to has no '+' or '#' (those are for subscribing)" "${output/\/#\':/\/#\'}"
	run -1 "$VIGIL" run --subscribe "mqtt://h/a#" -- true
	expect_eq "filter" "vigil run: '--subscribe': 'mqtt://h/a#': '#' stands for the whole rest only, as the last level, as in 'a/#'" "$output"
	run -1 "$VIGIL" run --publish "mqtt://h" "$W"
	expect_eq "topic" "vigil run: '--publish': 'mqtt://h' names no topic; give mqtt://HOST[:PORT]/TOPIC" "$output"
	run -1 "$VIGIL" run --share g "$W" -- true
	expect_eq "share" "vigil run: 'share' is for a subscription; give 'subscribe' too" "$output"
	run -1 "$VIGIL" run --subscribe "$URL/t" --map "/a/../b=/c" -- true
	expect_eq "map" "vigil run: '--map': '/a/../b=/c' is not REMOTE_PREFIX=LOCAL_PREFIX, two paths without '.', '..' or '//' in them" "$output"
}

@test "bad credentials: the broker's refusal said in one line; a credentials file others can read is refused as root" {
	printf 'alice:right\n' >"$TEST_DIR/broker/pw"
	mosquitto_passwd -U "$TEST_DIR/broker/pw"
	chmod 600 "$TEST_DIR/broker/pw"
	start_broker "password_file $TEST_DIR/broker/pw" "allow_anonymous false"
	printf 'wrong\n' >"$TEST_DIR/auth"
	chmod 600 "$TEST_DIR/auth"
	start_run --settle 0 --publish "mqtt://alice@127.0.0.1:$PORT/t" --mqtt-auth "$TEST_DIR/auth" "$W"
	# mosquitto answers a wrong password with "not authorized"
	wait_for_line "$ERR" "cannot connect to 'mqtt://alice@127.0.0.1:$PORT': the broker (refused the user name or password|says this client is not authorized) \(see --mqtt-auth\); trying again after"
	# said once, however many attempts fail the same way
	expect_eq "lines" 1 "$(grep -c 'cannot connect' "$ERR")"
	! grep -q wrong "$ERR"
	stop_vigil
	printf 'right\n' >"$TEST_DIR/auth"
	start_run --settle 0 --publish "mqtt://alice@127.0.0.1:$PORT/t" --mqtt-auth "$TEST_DIR/auth" "$W"
	wait_for_line "$ERR" "connected to 'mqtt://alice@127.0.0.1:$PORT'"
	! grep -q right "$ERR"
	stop_vigil
	if [ "$(id -u)" = 0 ]; then
		chmod 644 "$TEST_DIR/auth"
		run -1 "$VIGIL" run --settle 0 --publish "mqtt://alice@127.0.0.1:$PORT/t" \
			--mqtt-auth "$TEST_DIR/auth" "$W"
		expect_eq "readable" "vigil run: [run] '$TEST_DIR/auth' can be read or written by others (mode 0644); as root, vigil takes credentials only from a file of mode 0600 or stricter" "$output"
	fi
}

@test "TLS: a broker whose certificate the CA given did not sign is refused, said in one line; the right CA connects" {
	command -v openssl >/dev/null || skip "no openssl"
	local d=$TEST_DIR/tls
	mkdir "$d"
	(
		cd "$d" &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj /CN=other-ca &&
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 &&
		printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext
	) >/dev/null 2>&1 || { echo "openssl failed" >&2; return 1; }
	start_broker "cafile $d/ca.crt" "certfile $d/server.crt" "keyfile $d/server.key"
	local tls=mqtts://127.0.0.1:$PORT
	start_run --settle 0 --publish "$tls/t" --mqtt-ca "$d/other.crt" "$W"
	wait_for_line "$ERR" "cannot connect to '$tls': TLS: certificate verify failed; trying again after"
	stop_vigil
	start_run --settle 0 --publish "$tls/t" --mqtt-ca "$d/ca.crt" "$W"
	wait_for_line "$ERR" "connected to '$tls'"
}

@test "a path that escapes its --map prefix, or lies outside every one, is refused and logged, never run" {
	start_broker
	start_bg worker run --subscribe "$URL/in" --map "/srv/in=$W" -- sh -c "$REC" rec {}
	subscribed worker
	local p
	for p in '/srv/in/../../etc/passwd' '/srv/other/x' 'relative' '/srv/in//x' '/srv/in/ok'; do
		mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t in -m "{\"path\":\"$p\",\"events\":[\"CLOSE_WRITE\"]}"
	done
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t in -m 'not json'
	wait_for_line "$LOG" "ok"
	wait_for_line "$ERR.worker" "not one of vigil's \(not a JSON object\)"
	grep -q "a message on 'in' names '/srv/in/../../etc/passwd': not an absolute path without '.', '..' or '//' in it; not run" "$ERR.worker"
	grep -q "a message on 'in' names '/srv/other/x': outside every --map prefix; not run" "$ERR.worker"
	grep -q "a message on 'in' names 'relative': not an absolute path" "$ERR.worker"
	grep -q "a message on 'in' names '/srv/in//x': not an absolute path" "$ERR.worker"
	expect_eq "run on" "$W/ok|" "$(recorded)"
}
