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

-- The server formats each line (in C, off the write path) and hands the
-- handler whole batches: this script appends each batch with one write.
-- An operator's own zk.on("audit", fn) or zk.on("audit_batch", fn) handler
-- receives the same events, each with its fields and this preformatted line.

local log

local function log_path()
  local path = zk.config.get("audit.logFile")
  if path ~= nil and path ~= "" then return path end
  local s = zk.config.settings()
  return (s.dataLogDir or s.dataDir or ".") .. "/zookeeper_audit.log"
end

zk.on("audit_batch", function(batch)
  if log == nil then log = zk.appender(log_path()) end
  log:write(batch.text)
end)
