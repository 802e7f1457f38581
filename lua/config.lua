-- Configuration hook: runs once, after zoo.cfg is parsed and before anything
-- starts. It may override values from the environment, check combinations
-- that the parser does not, and reject the configuration (start-up stops
-- with the message, the key and its zoo.cfg line).
--
-- Environment overrides: ZKPLUG_<KEY>, the key upper-cased with every '.'
-- turned into '_', replaces the key's value (or adds it): for example
-- ZKPLUG_TICKTIME=2000, ZKPLUG_ADMIN_SERVERPORT=9090,
-- ZKPLUG_4LW_COMMANDS_WHITELIST='srvr,ruok'. Keys looked up: every key of
-- zoo.cfg plus the common ones listed below.

local common = {
  "tickTime", "initLimit", "syncLimit", "dataDir", "dataLogDir", "clientPort", "clientPortAddress",
  "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "4lw.commands.whitelist",
  "admin.enableServer", "admin.serverAddress", "admin.serverPort", "audit.enable", "audit.logFile",
  "lua.scriptsDir", "lua.instructionLimit", "lua.memoryLimitKb", "lua.eventQueueSize",
  "snapCount", "autopurge.snapRetainCount", "autopurge.purgeInterval",
}

local function env_name(key)
  return "ZKPLUG_" .. key:gsub("%.", "_"):upper()
end

local known_words = {
  conf = true, cons = true, crst = true, dirs = true, dump = true, envi = true, gtmk = true,
  hash = true, isro = true, mntr = true, ruok = true, srst = true, srvr = true, stat = true,
  stmk = true, wchc = true, wchp = true, wchs = true, lrld = true,
}

zk.on("config", function(cfg)
  local keys, seen = {}, {}
  for _, k in ipairs(cfg:keys()) do keys[#keys + 1] = k; seen[k] = true end
  for _, k in ipairs(common) do
    if not seen[k] then keys[#keys + 1] = k end
  end
  for _, k in ipairs(keys) do
    local v = os.getenv(env_name(k))
    if v ~= nil then
      zk.log.info(string.format("zoo.cfg %s=%s from the environment (%s)", k, v, env_name(k)))
      cfg:set(k, v)
    end
  end

  local audit = cfg:get("audit.enable")
  if audit ~= nil and audit ~= "true" and audit ~= "false" then
    cfg:reject("audit.enable", "must be true or false, not '" .. audit .. "'")
  end

  -- An ensemble member may have no clientPort line (its server.N line
  -- carries the client address).
  local client, admin = tonumber(cfg:get("clientPort") or ""), tonumber(cfg:get("admin.serverPort") or "8080")
  local admin_on = (cfg:get("admin.enableServer") or "true") ~= "false"
  if admin_on and client ~= nil and client ~= 0 and client == admin then
    cfg:reject("admin.serverPort", "must differ from clientPort (" .. client .. ")")
  end

  local limit = cfg:get("lua.instructionLimit")
  if limit ~= nil and (math.tointeger(tonumber(limit)) or 0) < 1000 then
    cfg:reject("lua.instructionLimit", "must be a whole number of at least 1000, not '" .. limit .. "'")
  end

  local list = cfg:get("4lw.commands.whitelist")
  if list ~= nil then
    for word in list:gmatch("[^,]+") do
      word = word:match("^%s*(.-)%s*$")
      if word ~= "*" and word ~= "" and not known_words[word] and #word == 4 then
        zk.log.debug("4lw.commands.whitelist names '" .. word .. "', not a built-in word")
      end
    end
  end
end)
