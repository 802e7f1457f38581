-- Audit log: ZooKeeper's ZKAuditProvider with its default logger. With
-- audit.enable=true the server hands every audited event (server start and
-- stop, create, delete, setData, setAcl, multiOperation failures, reconfig,
-- ephemeral deletion on session close or expiry) to the event thread, off
-- the write path.
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
--
-- The server formats each line in C on the event thread; zk.audit_log names
-- the file it appends them to, one write per batch, without calling Lua
-- (audit logging at full write rate costs a few percent, not a Lua call per
-- batch). An operator's own zk.on("audit", fn) or zk.on("audit_batch", fn)
-- handler still receives every event, with its fields and this preformatted
-- line; a script loaded after this one may call zk.audit_log(nil) to keep
-- only its own handlers.

local function log_path()
  local path = zk.config.get("audit.logFile")
  if path ~= nil and path ~= "" then return path end
  local s = zk.config.settings()
  return (s.dataLogDir or s.dataDir or ".") .. "/zookeeper_audit.log"
end

-- The file is opened by the event thread when the first line is written.
if zk.state == "events" then
  zk.audit_log(log_path())
end
