-- ZooKeeper 3.8's four-letter words and AdminServer commands.
--
-- Each command has a text form (the four-letter word, byte for byte as
-- ZooKeeper prints it) and a JSON form (the AdminServer's /commands/NAME,
-- with ZooKeeper's member names and order). The data comes from the zk API
-- (docs/lua-api.md); only the formatting lives here, so an operator can read
-- or replace any of it (a command registered later under the same name wins).
--
-- Conventions kept from ZooKeeper, quirks included:
-- * ids and zxids print as Java's Long.toHexString (two's complement);
-- * conf and dirs swap the sizes (dataDirSize is the txn-log folder's);
-- * wchs/wchc/wchp list data watches only; mntr's watch_count counts both;
-- * commands answer "not serving" while the server is not serving, except
--   ruok, envi, gtmk, stmk, isro and hash (always = true below).

local fmt = string.format

local function hex(v)
  return fmt("%x", v)
end

local function lines(t)
  return table.concat(t, "\n") .. "\n"
end

-- ---------------------------------------------------------- connections

-- ServerCnxn.dumpConnectionInfo; brief for stat, full for cons.
local function conn_line(c, brief)
  local s = fmt(" %s[%x](queued=%d,recved=%d,sent=%d", c.remote, c.interest_ops,
                c.outstanding_requests, c.packets_received, c.packets_sent)
  if not brief and c.session_id ~= 0 then
    s = s .. fmt(",sid=0x%s,lop=%s,est=%d,to=%d", hex(c.session_id), c.last_operation,
                 c.established, c.session_timeout or 0)
    if c.last_cxid >= 0 then
      s = s .. fmt(",lcxid=0x%s", hex(c.last_cxid))
    end
    s = s .. fmt(",lzxid=0x%s,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d", hex(c.last_zxid),
                 c.last_response_time, c.last_latency, c.min_latency, c.avg_latency, c.max_latency)
  end
  return s .. ")"
end

-- ServerCnxn.getConnectionInfo: brief for stats, full for connections;
-- ids and zxids are numbers here (Jackson prints the longs), and the full
-- form has the session members even before a session exists.
local function conn_json(c, brief)
  local o = zk.object()
  o.remote_socket_address = c.remote:sub(2)
  o.interest_ops = c.interest_ops
  o.outstanding_requests = c.outstanding_requests
  o.packets_received = c.packets_received
  o.packets_sent = c.packets_sent
  if not brief then
    o.session_id = c.session_id
    o.last_operation = c.last_operation
    o.established = c.established
    o.session_timeout = c.session_timeout or 0
    o.last_cxid = c.last_cxid
    o.last_zxid = c.last_zxid
    o.last_response_time = c.last_response_time
    o.last_latency = c.last_latency
    o.min_latency = c.min_latency
    o.avg_latency = c.avg_latency
    o.max_latency = c.max_latency
  end
  return o
end

local function connections_json(brief)
  local list = zk.array()
  for _, c in ipairs(zk.connections()) do
    list[#list + 1] = conn_json(c, brief)
  end
  return list
end

-- ------------------------------------------------------------ srvr, stat

local function server_summary(with_clients)
  local srv, st = zk.server(), zk.stats()
  local out = { "Zookeeper version: " .. srv.version }
  if srv.read_only then
    out[#out + 1] = "READ-ONLY mode; serving only read-only clients"
  end
  if with_clients then
    out[#out + 1] = "Clients:"
    for _, c in ipairs(zk.connections()) do
      out[#out + 1] = conn_line(c, true)
    end
    out[#out + 1] = ""
  end
  out[#out + 1] = fmt("Latency min/avg/max: %d/%s/%d", st.min_latency, st.avg_latency, st.max_latency)
  out[#out + 1] = fmt("Received: %d", st.packets_received)
  out[#out + 1] = fmt("Sent: %d", st.packets_sent)
  out[#out + 1] = fmt("Connections: %d", srv.connections)
  out[#out + 1] = fmt("Outstanding: %d", st.outstanding_requests)
  out[#out + 1] = fmt("Zxid: 0x%s", hex(srv.zxid))
  out[#out + 1] = "Mode: " .. srv.mode
  out[#out + 1] = fmt("Node count: %d", srv.node_count)
  if srv.proposal_last ~= nil then
    out[#out + 1] = fmt("Proposal sizes last/min/max: %d/%d/%d", srv.proposal_last, srv.proposal_min,
      srv.proposal_max)
  end
  return lines(out)
end

local function server_stats_json()
  local srv, st, dirs = zk.server(), zk.stats(), zk.dirs()
  local s = zk.object()
  s.packets_sent = st.packets_sent
  s.packets_received = st.packets_received
  s.fsync_threshold_exceed_count = 0
  s.client_response_stats = zk.object({
    { "last_buffer_size", st.last_client_response_size },
    { "min_buffer_size", st.min_client_response_size },
    { "max_buffer_size", st.max_client_response_size },
  })
  s.data_dir_size = dirs.log_size
  s.log_dir_size = dirs.snap_size
  s.provider_null = false
  s.server_state = srv.mode
  s.last_processed_zxid = srv.zxid
  s.outstanding_requests = st.outstanding_requests
  s.avg_latency = tonumber(st.avg_latency)
  s.max_latency = st.max_latency
  s.min_latency = st.min_latency
  s.num_alive_client_connections = srv.connections
  s.uptime = srv.uptime
  s.auth_failed_count = st.auth_failed_count
  s.non_mtlsremote_conn_count = 0
  s.non_mtlslocal_conn_count = 0
  local r = zk.object()
  r.version = srv.version
  r.read_only = srv.read_only
  r.server_stats = s
  r.client_response = s.client_response_stats
  r.node_count = srv.node_count
  return r
end

zk.command {
  name = "server_stats", word = "srvr", aliases = { "srvr" },
  text = function() return server_summary(false) end,
  json = server_stats_json,
}

zk.command {
  name = "stats", word = "stat", aliases = { "stat" },
  text = function() return server_summary(true) end,
  json = function()
    local r = server_stats_json()
    r.connections = connections_json(true)
    r.secure_connections = zk.array()
    return r
  end,
}

-- ------------------------------------------------------------- ruok, isro

zk.command {
  name = "ruok", always = true,
  text = function() return "imok" end,
  json = function() return zk.object() end,
}

zk.command {
  name = "is_read_only", word = "isro", aliases = { "isro" }, always = true,
  text = function()
    local srv = zk.server()
    if not srv.serving then return "null" end
    return srv.read_only and "ro" or "rw"
  end,
  json = function() return zk.object({ { "read_only", zk.server().read_only } }) end,
}

-- ------------------------------------------------------------ conf, dirs

-- QuorumZooKeeperServer.dumpConf's lines after the common ones.
local function self_peer(srv)
  for _, p in ipairs(srv.peers) do
    if p.id == srv.server_id then return p end
  end
end

local function quorum_conf()
  local srv = zk.server()
  local me = self_peer(srv)
  if srv.mode == "standalone" or me == nil then return "" end
  local c = zk.config.settings()
  return lines {
    "initLimit=" .. c.initLimit,
    "syncLimit=" .. c.syncLimit,
    "electionAlg=3",
    "electionPort=" .. me.election_port,
    "quorumPort=" .. me.quorum_port,
    "peerType=" .. (me.type == "observer" and 1 or 0),
    "membership: ",
  } .. srv.config_text
end

zk.command {
  name = "configuration", word = "conf", aliases = { "conf", "config" },
  text = function()
    local c, d = zk.config.settings(), zk.dirs()
    return lines {
      "clientPort=" .. c.clientPort,
      "secureClientPort=" .. (c.secureClientPort > 0 and c.secureClientPort or -1),
      -- ZooKeeper pairs each folder with the other one's size.
      "dataDir=" .. d.snap_dir,
      "dataDirSize=" .. d.log_size,
      "dataLogDir=" .. d.log_dir,
      "dataLogSize=" .. d.snap_size,
      "tickTime=" .. c.tickTime,
      "maxClientCnxns=" .. c.maxClientCnxns,
      "minSessionTimeout=" .. c.minSessionTimeout,
      "maxSessionTimeout=" .. c.maxSessionTimeout,
      "clientPortListenBacklog=" .. c.clientPortListenBacklog,
      "serverId=" .. zk.server().server_id,
    } .. quorum_conf()
  end,
  json = function()
    local c, d = zk.config.settings(), zk.dirs()
    local o = zk.object()
    o.client_port = c.clientPort
    o.data_dir = d.snap_dir
    o.data_log_dir = d.log_dir
    o.tick_time = c.tickTime
    o.max_client_cnxns = c.maxClientCnxns
    o.min_session_timeout = c.minSessionTimeout
    o.max_session_timeout = c.maxSessionTimeout
    o.server_id = 0
    o.client_port_listen_backlog = c.clientPortListenBacklog
    return o
  end,
}

zk.command {
  name = "dirs",
  text = function()
    local d = zk.dirs()
    return fmt("datadir_size: %d\nlogdir_size: %d\n", d.log_size, d.snap_size)
  end,
  json = function()
    local d = zk.dirs()
    return zk.object({ { "datadir_size", d.log_size }, { "logdir_size", d.snap_size } })
  end,
}

-- ------------------------------------------------------------------ cons

zk.command {
  name = "connections", word = "cons", aliases = { "cons" },
  text = function()
    local out = {}
    for _, c in ipairs(zk.connections()) do
      out[#out + 1] = conn_line(c, false) .. "\n"
    end
    return table.concat(out) .. "\n"
  end,
  json = function()
    return zk.object({ { "connections", connections_json(false) }, { "secure_connections", zk.array() } })
  end,
}

zk.command {
  name = "connection_stat_reset", word = "crst", aliases = { "crst" },
  text = function()
    zk.reset_connection_stats()
    return "Connection stats reset.\n"
  end,
  json = function()
    zk.reset_connection_stats()
    return zk.object()
  end,
}

zk.command {
  name = "stat_reset", word = "srst", aliases = { "srst" },
  text = function()
    zk.reset_server_stats()
    return "Server stats reset.\n"
  end,
  json = function()
    zk.reset_server_stats()
    return zk.object()
  end,
}

-- ------------------------------------------------------------------ envi

zk.command {
  name = "environment", word = "envi", aliases = { "env", "envi" }, always = true,
  text = function()
    local out = { "Environment:" }
    for _, kv in ipairs(zk.env()) do
      -- "<NA>" is what ZooKeeper prints for a property it cannot read.
      out[#out + 1] = kv[1] .. "=" .. (kv[2] or "<NA>")
    end
    return lines(out)
  end,
  json = function()
    local o = zk.object()
    for _, kv in ipairs(zk.env()) do
      o[kv[1]] = kv[2] or "<NA>"
    end
    return o
  end,
}

-- ------------------------------------------------------------ trace mask

zk.command {
  name = "get_trace_mask", word = "gtmk", aliases = { "gtmk" }, always = true,
  text = function() return tostring(zk.trace_mask()) end,
  json = function() return zk.object({ { "tracemask", zk.trace_mask() } }) end,
}

zk.command {
  name = "set_trace_mask", word = "stmk", aliases = { "stmk" }, always = true,
  text = function(req)
    -- Without its 8 bytes ZooKeeper fails the read and closes silently.
    if req.arg == nil then return nil end
    return tostring(zk.trace_mask(req.arg))
  end,
  json = function(req)
    local v = req.args.traceMask
    if v == nil then
      return zk.object(), "setTraceMask requires long traceMask argument"
    end
    local n = math.tointeger(tonumber(v))
    if n == nil then
      return zk.object(), "setTraceMask requires long traceMask argument, got " .. v
    end
    return zk.object({ { "tracemask", zk.trace_mask(n) } })
  end,
}

-- ------------------------------------------------------------------ hash

zk.command {
  name = "hash", always = true,
  text = function()
    -- A standalone server records no digests; ZooKeeper's refusal has no
    -- newline here.
    if not zk.server().serving then
      return "This ZooKeeper instance is not currently serving requests"
    end
    return ""
  end,
  json = function() return zk.object({ { "digests", zk.array() } }) end,
}

-- ------------------------------------------------------------------ mntr

-- Every figure comes from the metrics registry (zk.mntr: ZooKeeper's
-- MonitorCommand keys, summaries expanded into avg_/min_/max_/cnt_/sum_ and
-- p50_.. for the advanced ones). The keys ZooKeeper's ZooKeeperServer and
-- ServerStats put first are listed first, in ZooKeeper's order; the rest
-- follow in registration order. Each pair: { name, value, number } (number:
-- a double's value, for JSON).
local MNTR_FIRST = {
  "version", "server_state", "peer_state", "ephemerals_count", "num_alive_connections",
  "avg_latency", "min_latency", "max_latency", "outstanding_requests",
  "znode_count", "global_sessions", "local_sessions", "watch_count",
  "approximate_data_size", "open_file_descriptor_count",
  "max_file_descriptor_count", "uptime", "packets_sent", "packets_received",
  "last_client_response_size", "min_client_response_size",
  "max_client_response_size", "auth_failed_count",
  "non_mtls_remote_conn_count", "non_mtls_local_conn_count",
  "outstanding_tls_handshake", "connection_drop_probability",
}

local function mntr_pairs()
  local all, by_name = zk.mntr(), {}
  for _, m in ipairs(all) do
    if by_name[m.name] == nil then by_name[m.name] = m end
  end
  local list, seen = {}, {}
  local function add(m)
    if m ~= nil and not seen[m.name] then
      seen[m.name] = true
      list[#list + 1] = { m.name, m.value, m.number }
    end
  end
  for _, name in ipairs(MNTR_FIRST) do add(by_name[name]) end
  for _, m in ipairs(all) do add(m) end
  return list
end

zk.command {
  name = "monitor", word = "mntr", aliases = { "mntr" },
  text = function()
    local out = {}
    for _, kv in ipairs(mntr_pairs()) do
      out[#out + 1] = "zk_" .. kv[1] .. "\t" .. tostring(kv[2])
    end
    return lines(out)
  end,
  json = function()
    local o = zk.object()
    for _, kv in ipairs(mntr_pairs()) do
      local v = kv[2]
      if kv[3] ~= nil then v = tonumber(v) or kv[3] end
      o[kv[1]] = v
    end
    return o
  end,
}

-- --------------------------------------------------------------- watches

zk.command {
  name = "watch_summary", word = "wchs", aliases = { "wchs" },
  text = function()
    local w = zk.watches.summary("data")
    return fmt("%d connections watching %d paths\nTotal watches:%d\n", w.connections, w.paths, w.watches)
  end,
  json = function()
    local w = zk.watches.summary("data")
    return zk.object({ { "num_connections", w.connections }, { "num_paths", w.paths },
                       { "num_total_watches", w.watches } })
  end,
}

zk.command {
  name = "watches", word = "wchc", aliases = { "wchc" },
  text = function()
    local out = {}
    for _, s in ipairs(zk.watches.by_session("data")) do
      out[#out + 1] = "0x" .. hex(s.session_id) .. "\n"
      for _, p in ipairs(s.paths) do
        out[#out + 1] = "\t" .. p .. "\n"
      end
    end
    return table.concat(out) .. "\n"
  end,
  json = function()
    local m = zk.object()
    for _, s in ipairs(zk.watches.by_session("data")) do
      m[tostring(s.session_id)] = zk.array(s.paths)
    end
    return zk.object({ { "session_id_to_watched_paths", m } })
  end,
}

zk.command {
  name = "watches_by_path", word = "wchp", aliases = { "wchp" },
  text = function()
    local out = {}
    for _, p in ipairs(zk.watches.by_path("data")) do
      out[#out + 1] = p.path .. "\n"
      for _, id in ipairs(p.session_ids) do
        out[#out + 1] = "\t0x" .. hex(id) .. "\n"
      end
    end
    return table.concat(out) .. "\n"
  end,
  json = function()
    local m = zk.object()
    for _, p in ipairs(zk.watches.by_path("data")) do
      m[p.path] = zk.array(p.session_ids)
    end
    return zk.object({ { "path_to_session_ids", m } })
  end,
}

-- ------------------------------------------------------------------ dump

zk.command {
  name = "dump",
  text = function()
    local e = zk.expiry()
    local out = { "SessionTracker dump:" }
    local function buckets(prefix, list, item)
      local n = 0
      for _, b in ipairs(list) do n = n + #b.items end
      out[#out + 1] = fmt("%s Sets (%d)/(%d):", prefix, #list, n)
      for _, b in ipairs(list) do
        out[#out + 1] = fmt("%d expire at %s:", #b.items, zk.format.java_date(b.at))
        for _, it in ipairs(b.items) do out[#out + 1] = "\t" .. item(it) end
      end
    end
    buckets("Session", e.sessions, function(id) return "0x" .. hex(id) end)
    out[#out + 1] = "ephemeral nodes dump:"
    local owners = {}
    for _, s in ipairs(zk.sessions()) do
      if #s.ephemerals > 0 then owners[#owners + 1] = s end
    end
    out[#out + 1] = fmt("Sessions with Ephemerals (%d):", #owners)
    for _, s in ipairs(owners) do
      out[#out + 1] = "0x" .. hex(s.id) .. ":"
      for _, p in ipairs(s.ephemerals) do out[#out + 1] = "\t" .. p end
    end
    out[#out + 1] = "Connections dump:"
    buckets("Connections", e.connections, function(c)
      return fmt("ip: %s sessionId: 0x%s", c.remote, hex(c.session_id))
    end)
    return lines(out)
  end,
  json = function()
    local expiry = zk.object()
    for _, b in ipairs(zk.expiry().sessions) do
      expiry[tostring(b.at)] = zk.array(b.items)
    end
    local eph = zk.object()
    for _, s in ipairs(zk.sessions()) do
      if #s.ephemerals > 0 then eph[tostring(s.id)] = zk.array(s.ephemerals) end
    end
    return zk.object({ { "expiry_time_to_session_ids", expiry }, { "session_id_to_ephemeral_paths", eph } })
  end,
}

-- ------------------------------------------- AdminServer-only commands

zk.command {
  name = "initial_configuration", aliases = { "icfg" },
  json = function()
    local out = {}
    for _, e in ipairs(zk.config.entries()) do out[#out + 1] = e.key .. "=" .. e.value end
    return zk.object({ { "initial_configuration", table.concat(out, "\n") .. "\n" } })
  end,
}

zk.command {
  name = "last_snapshot", aliases = { "lsnp" },
  json = function()
    local srv = zk.server()
    return zk.object({ { "zxid", hex(srv.last_snapshot_zxid) }, { "timestamp", srv.last_snapshot_time } })
  end,
}

zk.command {
  name = "leader", aliases = { "lead" },
  json = function()
    local srv = zk.server()
    if srv.mode == "standalone" then return zk.object(), "server is not initialized" end
    local ip = ""
    for _, p in ipairs(srv.peers) do
      if p.id == srv.leader then ip = p.host end
    end
    return zk.object({ { "is_leader", srv.mode == "leader" }, { "leader_id", srv.leader or -1 },
                       { "leader_ip", ip } })
  end,
}

zk.command {
  name = "observer_connection_stat_reset", aliases = { "orst" },
  json = function() return zk.object() end,
}

zk.command {
  name = "observers", aliases = { "obsr" },
  json = function() return zk.object({ { "synced_observers", 0 }, { "observers", zk.array() } }) end,
}

zk.command {
  name = "system_properties", aliases = { "sysp" }, always = true,
  json = function()
    local keys, env = {}, {}
    for _, kv in ipairs(zk.env()) do
      if kv[2] then keys[#keys + 1] = kv[1]; env[kv[1]] = kv[2] end
    end
    table.sort(keys)
    local o = zk.object()
    for _, k in ipairs(keys) do o[k] = env[k] end
    return o
  end,
}

zk.command {
  name = "voting_view",
  json = function()
    local srv = zk.server()
    local view = zk.object()
    local me = zk.config.settings()
    for _, p in ipairs(srv.peers) do
      if p.type == "participant" then
        -- ZooKeeper knows a client address for itself, and for the others
        -- only when their server line carries one.
        local client = ""
        if p.id == srv.server_id then
          client = (me.clientPortAddress or "0.0.0.0") .. ":" .. srv.client_port
        elseif p.client_port ~= 0 then
          client = p.host .. ":" .. p.client_port
        end
        view[tostring(p.id)] = zk.object({
          { "server_addresses", zk.array({ p.host .. ":" .. p.quorum_port }) },
          { "election_addresses", zk.array({ p.host .. ":" .. p.election_port }) },
          { "client_address", client },
          { "learner_type", "participant" },
        })
      end
    end
    return zk.object({ { "current_config", view } })
  end,
}

zk.command {
  name = "zabstate", always = true,
  json = function()
    local srv = zk.server()
    local o = zk.object()
    -- A standalone ZooKeeper is no QuorumZooKeeperServer: only these two.
    if srv.mode == "standalone" then
      o.voting = false
      o.zabstate = ""
      return o
    end
    -- QuorumPeer's MultipleAddresses, as Jackson writes it.
    local function addresses(host, port)
      local hp = host .. ":" .. port
      return zk.object({
        { "empty", false }, { "all_addresses", zk.array({ hp }) },
        { "all_reachable_addresses", zk.array({ hp }) }, { "one", hp }, { "reachable_address", hp },
        { "wildcard_addresses", zk.array({ "0.0.0.0:" .. port }) }, { "all_ports", zk.array({ port }) },
        { "all_host_strings", zk.array({ host }) },
        { "all_reachable_addresses_or_all", zk.array({ hp }) }, { "reachable_or_one", hp },
      })
    end
    local me = self_peer(srv)
    o.myid = srv.server_id
    o.is_leader = srv.mode == "leader"
    o.quorum_address = me and addresses(me.host, me.quorum_port) or zk.null
    o.election_address = me and addresses(me.host, me.election_port) or zk.null
    o.client_address = (zk.config.settings().clientPortAddress or "0.0.0.0") .. ":" .. srv.client_port
    o.voting = me ~= nil and me.type == "participant"
    o.last_zxid = "0x" .. hex(srv.zxid)
    o.zab_epoch = srv.zxid >> 32
    o.zab_counter = srv.zxid & 0xffffffff
    o.zabstate = srv.zab_state or ""
    return o
  end,
}
