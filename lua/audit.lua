-- Audit log: ZooKeeper's ZKAuditProvider with its default logger. With
-- audit.enable=true the server hands every audited event (server start and
-- stop, create, delete, setData, setAcl, multiOperation failures, reconfig,
-- ephemeral deletion on session close or expiry) to this handler, on the
-- event thread, off the write path.
--
-- Line format: ZooKeeper's audit appender pattern "%d{ISO8601} %p %c{2}: %m"
-- with AuditEvent's message: tab-separated key=value pairs in the order
-- session, user, ip, operation, znode, znode_type, acl (absent values are
-- left out), then result. Failures log at ERROR, everything else at INFO:
--
--   2024-05-02 10:00:00,123 INFO audit.Slf4jAuditLogger: session=0x100...\tuser=127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/a\tznode_type=persistent\tresult=success
--
-- The file is audit.logFile, by default zookeeper_audit.log in dataLogDir
-- (dataDir when unset).

local fields = { "session", "user", "ip", "operation", "znode", "znode_type", "acl" }
local log

local function log_path()
  local path = zk.config.get("audit.logFile")
  if path ~= nil and path ~= "" then return path end
  local s = zk.config.settings()
  return (s.dataLogDir or s.dataDir or ".") .. "/zookeeper_audit.log"
end

-- The date part changes once a second: format it once per second.
local last_second, last_date = -1, ""

zk.on("audit", function(ev)
  if log == nil then log = zk.appender(log_path()) end
  local second = ev.time // 1000
  if second ~= last_second then
    last_second, last_date = second, os.date("%Y-%m-%d %H:%M:%S", second)
  end
  local parts, n = {}, 0
  for i = 1, #fields do
    local k = fields[i]
    local v = ev[k]
    if v ~= nil then n = n + 1; parts[n] = k .. "=" .. v end
  end
  parts[n + 1] = "result=" .. ev.result
  log:write(last_date, string.format(",%03d ", ev.time % 1000),
            ev.result == "failure" and "ERROR" or "INFO", " audit.Slf4jAuditLogger: ",
            table.concat(parts, "\t"), "\n")
end)
