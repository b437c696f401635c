#!/usr/bin/env bash
# connscope network lab: real networks built from network namespaces.
#
#   client ── r1 ── r2 ── server
#              │
#             dns
#
# Source it for interactive use (functions never exit your shell; they return non-zero), or run it
# as `lab.sh COMMAND ARGS...` (COMMAND is a function name without the lab_ prefix, e.g.
# `lab.sh up demo`). This file is the one source of truth for the topology: the C++ fixture
# (lab.cpp) runs it and reads `lab.sh info`. See README.md.

# Each link: node-a iface-a v4-a v6-a node-b iface-b v4-b v6-b (prefixes are /24 and /64).
# A router's first address is the one facing the client (or the dns server's first hop).
LAB_LINKS=(
  "client eth0 198.18.1.2 2001:db8:1::2 r1 eth0 198.18.1.1 2001:db8:1::1"
  "r1 eth1 198.18.2.1 2001:db8:2::1 r2 eth0 198.18.2.2 2001:db8:2::2"
  "r2 eth1 198.18.3.1 2001:db8:3::1 server eth0 198.18.3.2 2001:db8:3::2"
  "r1 eth2 198.18.4.1 2001:db8:4::1 dns eth0 198.18.4.2 2001:db8:4::2"
)
LAB_NODES=(client r1 r2 server dns)
LAB_ROUTERS=(r1 r2)
LAB_V4_PREFIXLEN=24
LAB_V6_PREFIXLEN=64
# Every route covers the lab's own ranges only: nothing in the lab can reach the host or beyond.
LAB_V4_NET=198.18.0.0/15
LAB_V6_NET=2001:db8::/32
# An address on the dns link that nobody owns: a permanent neighbour entry in the dns namespace
# sends it to a MAC no one has, so queries to it vanish without an ICMP error (a silent upstream).
LAB_SILENT_V4=198.18.4.99
LAB_SILENT_MAC=02:00:00:00:04:99
LAB_NFT_TABLE=connscope_lab

lab_ns() { # PREFIX NODE -> namespace name
  printf '%s-%s\n' "$1" "$2"
}

lab_exec() { # PREFIX NODE CMD... : run a command in a node's namespace
  local ns
  ns=$(lab_ns "$1" "$2") || return
  shift 2
  ip netns exec "$ns" "$@"
}

lab_info() { # print the topology as lines the C++ fixture parses
  local l
  for l in "${LAB_LINKS[@]}"; do
    printf 'link %s\n' "$l"
  done
  printf 'silent_v4 %s\n' "$LAB_SILENT_V4"
}

# Routes between the lab's /24s and /64s. Ends route the whole lab range to their single router.
_lab_routes() { # NODE -> "ip route" batch lines
  case "$1" in
    client) echo "route add $LAB_V4_NET via 198.18.1.1"; echo "route add $LAB_V6_NET via 2001:db8:1::1" ;;
    server) echo "route add $LAB_V4_NET via 198.18.3.1"; echo "route add $LAB_V6_NET via 2001:db8:3::1" ;;
    dns) echo "route add $LAB_V4_NET via 198.18.4.1"; echo "route add $LAB_V6_NET via 2001:db8:4::1"
         echo "neigh add $LAB_SILENT_V4 lladdr $LAB_SILENT_MAC dev eth0 nud permanent" ;;
    r1) echo "route add 198.18.3.0/24 via 198.18.2.2"; echo "route add 2001:db8:3::/64 via 2001:db8:2::2" ;;
    r2) echo "route add 198.18.1.0/24 via 198.18.2.1"; echo "route add 2001:db8:1::/64 via 2001:db8:2::1"
        echo "route add 198.18.4.0/24 via 198.18.2.1"; echo "route add 2001:db8:4::/64 via 2001:db8:2::1" ;;
  esac
}

_lab_is_router() {
  [[ " ${LAB_ROUTERS[*]} " == *" $1 "* ]]
}

lab_up() { # PREFIX : build the topology (v4 and v6); on failure removes what it built
  local prefix=$1 node l
  [[ -n "$prefix" ]] || { echo "lab_up: missing prefix" >&2; return 2; }
  {
    for node in "${LAB_NODES[@]}"; do echo "netns add $(lab_ns "$prefix" "$node")"; done
  } | ip -batch - || { lab_down "$prefix"; return 1; }

  # Before any link exists, so new interfaces inherit them: no DAD (v6 usable at once), no ICMP
  # rate limit (tests send ICMP errors back to back), forwarding on the routers.
  for node in "${LAB_NODES[@]}"; do
    local sysctls=(net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
      net.ipv6.conf.default.router_solicitations=0
      net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0)
    if _lab_is_router "$node"; then
      sysctls+=(net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1)
    fi
    lab_exec "$prefix" "$node" sysctl -q -w "${sysctls[@]}" || { lab_down "$prefix"; return 1; }
  done

  # Each veth is created with both ends already in their namespaces: nothing touches the root one.
  {
    for l in "${LAB_LINKS[@]}"; do
      read -r na ia _ _ nb ib _ _ <<<"$l"
      echo "link add $ia netns $(lab_ns "$prefix" "$na") type veth peer name $ib netns $(lab_ns "$prefix" "$nb")"
    done
  } | ip -batch - || { lab_down "$prefix"; return 1; }

  # Links go up everywhere before any address is added: an IPv6 address added while its link
  # has no carrier yet loses the first packets (about a second of NDP retries).
  for node in "${LAB_NODES[@]}"; do
    {
      echo "link set lo up"
      for l in "${LAB_LINKS[@]}"; do
        read -r na ia _ _ nb ib _ _ <<<"$l"
        [[ $na == "$node" ]] && echo "link set $ia up"
        [[ $nb == "$node" ]] && echo "link set $ib up"
      done
    } | ip -n "$(lab_ns "$prefix" "$node")" -batch - || { lab_down "$prefix"; return 1; }
  done
  for node in "${LAB_NODES[@]}"; do
    {
      for l in "${LAB_LINKS[@]}"; do
        read -r na ia v4a v6a nb ib v4b v6b <<<"$l"
        if [[ $na == "$node" ]]; then
          echo "addr add $v4a/$LAB_V4_PREFIXLEN dev $ia"; echo "addr add $v6a/$LAB_V6_PREFIXLEN dev $ia nodad"
        elif [[ $nb == "$node" ]]; then
          echo "addr add $v4b/$LAB_V4_PREFIXLEN dev $ib"; echo "addr add $v6b/$LAB_V6_PREFIXLEN dev $ib nodad"
        fi
      done
      _lab_routes "$node"
    } | ip -n "$(lab_ns "$prefix" "$node")" -batch - || { lab_down "$prefix"; return 1; }
  done
}

lab_down() { # PREFIX : kill everything running in the lab's namespaces and remove them
  local prefix=$1 node ns pids rc=0
  [[ -n "$prefix" ]] || { echo "lab_down: missing prefix" >&2; return 2; }
  for node in "${LAB_NODES[@]}"; do
    ns=$(lab_ns "$prefix" "$node")
    [[ -e /run/netns/$ns ]] || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null
    ip netns del "$ns" || rc=1
  done
  return $rc
}

lab_clean_stale() { # remove what fixture runs (csl<pid>x<n>) left behind when their creator died
  # Namespaces (with their processes) and the fixture's temp dirs; a live pid's are left alone.
  local name pid prefix
  for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $name =~ ^(csl([0-9]+)x[0-9]+)- ]] || continue
    prefix=${BASH_REMATCH[1]}
    pid=${BASH_REMATCH[2]}
    kill -0 "$pid" 2>/dev/null && continue
    lab_down "$prefix"
  done
  for name in "${TMPDIR:-/tmp}"/connscope-lab-csl*; do
    [[ -d $name && ${name##*/} =~ ^connscope-lab-csl([0-9]+)x[0-9]+- ]] || continue
    kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || rm -rf -- "$name"
  done
}

# --- faults -----------------------------------------------------------------------------------

lab_nft() { # PREFIX NODE RULESET : load nft text in a node (e.g. "add rule inet t c drop")
  printf '%s\n' "$3" | lab_exec "$1" "$2" nft -f -
}

# The lab's own table: input (a host refuses), forward (a router on the path refuses), output
# (what a host itself sends, e.g. a router's own ICMP errors).
_lab_nft_base() {
  local c
  echo "add table inet $LAB_NFT_TABLE"
  for c in input forward output; do
    echo "add chain inet $LAB_NFT_TABLE $c { type filter hook $c priority 0; policy accept; }"
  done
}

_lab_chain() { # NODE -> chain where traffic "through or to this node" is filtered
  if _lab_is_router "$1"; then echo forward; else echo input; fi
}

_lab_match() { # FAMILY PORT PROTO-SET -> nft match expression
  local family=$1 port=$2 protos=$3 m
  case "$family" in
    4|v4|ipv4) m="meta nfproto ipv4" ;;
    6|v6|ipv6) m="meta nfproto ipv6" ;;
    *) echo "lab: bad family '$family' (4 or 6)" >&2; return 2 ;;
  esac
  [[ $port =~ ^[0-9]+$ ]] || { echo "lab: bad port '$port'" >&2; return 2; }
  if [[ $port != 0 ]]; then
    m+=" meta l4proto $protos th dport $port"
  elif [[ $protos == tcp ]]; then
    m+=" meta l4proto tcp"
  fi
  echo "$m"
}

lab_drop() { # PREFIX NODE FAMILY PORT : silently drop TCP/UDP to PORT (0: all) through/to NODE
  local m
  m=$(_lab_match "$3" "$4" "{ tcp, udp }") || return
  lab_nft "$1" "$2" "$(_lab_nft_base)
add rule inet $LAB_NFT_TABLE $(_lab_chain "$2") $m drop"
}

lab_reject() { # PREFIX NODE FAMILY PORT KIND : refuse TCP/UDP to PORT (0: all) through/to NODE
  # KIND: tcp-reset port-unreachable host-unreachable admin-prohibited net-unreachable
  #       addr-unreachable (ICMPv6; v4 gets host-unreachable)
  local family=$3 kind=$5 m with v6=0
  [[ $family == 6 || $family == v6 || $family == ipv6 ]] && v6=1
  case "$kind" in
    tcp-reset) with="tcp reset" ;;
    port-unreachable) ((v6)) && with="icmpv6 type port-unreachable" || with="icmp type port-unreachable" ;;
    host-unreachable|addr-unreachable)
      ((v6)) && with="icmpv6 type addr-unreachable" || with="icmp type host-unreachable" ;;
    admin-prohibited) ((v6)) && with="icmpv6 type admin-prohibited" || with="icmp type admin-prohibited" ;;
    net-unreachable|no-route) ((v6)) && with="icmpv6 type no-route" || with="icmp type net-unreachable" ;;
    *) echo "lab_reject: unknown kind '$kind'" >&2; return 2 ;;
  esac
  if [[ $kind == tcp-reset ]]; then
    m=$(_lab_match "$family" "$4" tcp) || return
  else
    m=$(_lab_match "$family" "$4" "{ tcp, udp }") || return
  fi
  lab_nft "$1" "$2" "$(_lab_nft_base)
add rule inet $LAB_NFT_TABLE $(_lab_chain "$2") $m reject with $with"
}

lab_drop_frag_needed() { # PREFIX NODE : drop ICMP frag-needed / ICMPv6 packet-too-big (a PMTU black hole)
  # Both chains: a router's own "too big" errors leave through output, others' pass forward.
  local rules c
  rules=$(_lab_nft_base)
  for c in forward output; do
    rules+=$'\n'"add rule inet $LAB_NFT_TABLE $c icmp type destination-unreachable icmp code 4 drop"
    rules+=$'\n'"add rule inet $LAB_NFT_TABLE $c icmpv6 type packet-too-big drop"
  done
  lab_nft "$1" "$2" "$rules"
}

lab_faults_clear() { # PREFIX NODE : remove every nft fault from a node
  lab_exec "$1" "$2" nft delete table inet "$LAB_NFT_TABLE" 2>/dev/null || true
}

lab_netem() { # PREFIX NODE IFACE SPEC... : tc netem on IFACE egress, e.g. loss 30% delay 50ms rate 1mbit
  # Kernels built without sch_netem still get "loss N%" (nft, whole percents) and "rate R" (tbf);
  # anything else (delay, jitter, reorder...) fails there with exit status 3.
  local prefix=$1 node=$2 iface=$3 loss="" rate=""
  shift 3
  if lab_has_netem "$prefix"; then
    lab_exec "$prefix" "$node" tc qdisc replace dev "$iface" root netem "$@"
    return
  fi
  while (($#)); do
    case "$1" in
      loss) loss=${2%\%}; loss=${loss%%.*}; shift 2 ;;
      rate) rate=$2; shift 2 ;;
      *) echo "lab_netem: no sch_netem in this kernel: only 'loss N%' and 'rate R' can be emulated, not '$1'" >&2
         return 3 ;;
    esac
  done
  if [[ -n $loss ]]; then lab_loss "$prefix" "$node" "$iface" "$loss" || return; fi
  if [[ -n $rate ]]; then lab_rate "$prefix" "$node" "$iface" "$rate" || return; fi
}

lab_netem_clear() { # PREFIX NODE IFACE : remove netem (and its emulation) from IFACE
  lab_exec "$1" "$2" tc qdisc del dev "$3" root 2>/dev/null
  lab_loss_clear "$1" "$2" "$3"
}

lab_has_netem() { # PREFIX : does this kernel have sch_netem? (probed on the client's loopback)
  lab_exec "$1" client tc qdisc add dev lo root netem delay 0ms 2>/dev/null || return 1
  lab_exec "$1" client tc qdisc del dev lo root
}

_lab_peer() { # NODE IFACE -> "peer-node peer-iface" of that veth
  local l
  for l in "${LAB_LINKS[@]}"; do
    read -r na ia _ _ nb ib _ _ <<<"$l"
    [[ $na == "$1" && $ia == "$2" ]] && { echo "$nb $ib"; return; }
    [[ $nb == "$1" && $ib == "$2" ]] && { echo "$na $ia"; return; }
  done
  echo "lab: $1 has no lab link $2" >&2
  return 2
}

lab_loss() { # PREFIX NODE IFACE PERCENT : random loss of packets leaving IFACE, without netem
  # Dropped where the veth's other end receives them (nft ingress + numgen): dropped at the
  # sender's own egress, TCP would see a local send failure, not a loss to retransmit.
  local pct=$4 peer match
  [[ $pct =~ ^[0-9]+$ && $pct -le 100 ]] || { echo "lab_loss: bad percent '$pct'" >&2; return 2; }
  peer=$(_lab_peer "$2" "$3") || return
  read -r pnode piface <<<"$peer"
  # numgen's "mod 100" gives 0-99, and nft refuses "< 100": 100% is a plain drop.
  match="numgen random mod 100 < $pct "
  ((pct == 100)) && match=""
  lab_nft "$1" "$pnode" "add table netdev ${LAB_NFT_TABLE}_loss_$piface
add chain netdev ${LAB_NFT_TABLE}_loss_$piface ingress { type filter hook ingress device \"$piface\" priority 0; policy accept; }
add rule netdev ${LAB_NFT_TABLE}_loss_$piface ingress ${match}drop"
}

lab_loss_clear() { # PREFIX NODE IFACE
  local peer
  peer=$(_lab_peer "$2" "$3") || return
  read -r pnode piface <<<"$peer"
  lab_exec "$1" "$pnode" nft delete table netdev "${LAB_NFT_TABLE}_loss_$piface" 2>/dev/null || true
}

lab_rate() { # PREFIX NODE IFACE RATE : token-bucket rate limit on IFACE egress (e.g. 1mbit), without netem
  lab_exec "$1" "$2" tc qdisc replace dev "$3" root tbf rate "$4" burst 16kb latency 200ms
}

lab_mtu() { # PREFIX NODE IFACE MTU
  lab_exec "$1" "$2" ip link set dev "$3" mtu "$4"
}

lab_sysctl() { # PREFIX NODE KEY VALUE : set a sysctl in one namespace only
  lab_exec "$1" "$2" sysctl -q -w "$3=$4"
}

# --- TLS material -----------------------------------------------------------------------------

lab_certs() { # DIR [NAME] : a lab CA, server certificates (valid, expired, notyet, wrongname, selfsigned) and a client one
  # Leaf names: NAME (default server.connscope.test) plus the server's lab addresses; wrongname
  # is for other.connscope.test. Dates are fixed far in the past/future so they never drift.
  local dir=$1 name=${2:-server.connscope.test} c
  [[ -n "$dir" ]] || { echo "lab_certs: missing dir" >&2; return 2; }
  mkdir -p "$dir/ca/new" || return
  : >"$dir/ca/index.txt"
  echo 1000 >"$dir/ca/serial"
  cat >"$dir/ca/ca.cnf" <<EOF
[ca]
default_ca = lab
[lab]
dir = $dir/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_days = 3650
policy = any
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::LAB_SAN
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
    -subj "/CN=connscope lab CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return
  local san="DNS:$name,IP:198.18.3.2,IP:2001:db8:3::2"
  # name subject SAN startdate enddate
  local leaves=(
    "valid $name $san 250101000000Z 491231000000Z"
    "expired $name $san 200101000000Z 210101000000Z"
    "notyet $name $san 400101000000Z 410101000000Z"
    "wrongname other.connscope.test DNS:other.connscope.test 250101000000Z 491231000000Z"
  )
  local l leaf cn lsan start end
  for l in "${leaves[@]}"; do
    read -r leaf cn lsan start end <<<"$l"
    openssl req -new "${ec[@]}" -keyout "$dir/$leaf.key" -out "$dir/$leaf.csr" -subj "/CN=$cn" \
      2>/dev/null || return
    LAB_SAN=$lsan openssl ca -batch -notext -config "$dir/ca/ca.cnf" -extensions leaf \
      -startdate "$start" -enddate "$end" -in "$dir/$leaf.csr" -out "$dir/$leaf.pem" \
      2>/dev/null || { echo "lab_certs: signing $leaf failed" >&2; return 1; }
  done
  openssl req -x509 "${ec[@]}" -keyout "$dir/selfsigned.key" -out "$dir/selfsigned.pem" -days 3650 \
    -subj "/CN=$name" -addext "subjectAltName=$san" 2>/dev/null || return
  # A client certificate for mutual TLS (clientAuth), signed by the lab CA.
  openssl req -new "${ec[@]}" -keyout "$dir/client.key" -out "$dir/client.csr" -subj "/CN=client.connscope.test" \
    2>/dev/null || return
  LAB_SAN=DNS:client.connscope.test openssl ca -batch -notext -config "$dir/ca/ca.cnf" -extensions client \
    -startdate 250101000000Z \
    -enddate 491231000000Z -in "$dir/client.csr" -out "$dir/client.pem" 2>/dev/null \
    || { echo "lab_certs: signing client failed" >&2; return 1; }
  for c in valid expired notyet wrongname selfsigned client; do
    [[ -s $dir/$c.pem && -s $dir/$c.key ]] || { echo "lab_certs: $c missing" >&2; return 1; }
  done
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  cmd=${1:-}
  if [[ -z $cmd ]] || ! declare -F "lab_${cmd//-/_}" >/dev/null; then
    echo "usage: lab.sh COMMAND ARGS... (commands: $(declare -F | awk '$3 ~ /^lab_/ {sub(/^lab_/, "", $3); printf "%s ", $3}'))" >&2
    exit 2
  fi
  shift
  "lab_${cmd//-/_}" "$@"
fi
