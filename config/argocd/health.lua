-- Argo CD health of Gatehouse objects (access.gatehouse.dev: Role,
-- UserGroup, FieldPolicy, ApprovalChain, PermissionSnapshot).
--   Healthy      Ready=True for the current generation: the object is served.
--   Degraded     Ready=False: left out of the snapshot; the message names the
--                field and the reason (InvalidReference, InvalidExpression,
--                Cycle, InvalidSpec).
--   Progressing  not compiled yet, or the status describes an older generation.
local hs = { status = "Progressing", message = "Waiting for the Gatehouse operator to compile this object" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation
local function stale(observed)
  return generation ~= nil and (observed == nil or observed < generation)
end
if stale(obj.status.observedGeneration) then
  hs.message = "Waiting for the Gatehouse operator to compile generation " .. tostring(generation)
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    if stale(condition.observedGeneration) then
      hs.message = "Waiting for the Gatehouse operator to compile generation " .. tostring(generation)
    elseif condition.status == "True" then
      hs.status = "Healthy"
      hs.message = condition.message or ""
      if obj.status.revision ~= nil then
        hs.message = "Served in snapshot revision " .. obj.status.revision
      end
    elseif condition.status == "False" then
      hs.status = "Degraded"
      hs.message = (condition.reason or "NotReady") .. ": " .. (condition.message or "")
    end
    return hs
  end
end
return hs
