-- POST a signature with a unique address each time: wrk ... -s sign.lua URL -- RUN_ID CODES_FILE
-- Like a rush: signers from many town halls (the address's domain follows the commune) and many
-- networks (X-Forwarded-For, read by the server when TRUSTED_PROXIES names the load balancer).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "common"

local run, codes, n = "x", {}, 0

function init(args)
   run = args[1]
   for line in io.lines(args[2]) do
      table.insert(codes, line)
   end
   math.randomseed(tid * 7919 + os.time())
end

wrk.method = "POST"

function request()
   n = n + 1
   local code = codes[math.random(#codes)]
   local body = string.format(
      '{"given_name": "Anne", "family_name": "Martin", ' ..
      '"email": "wrk-%s-%d-%d@mairie-%s.bench-test.fr", ' ..
      '"mandate": "maire", "territory_code": "%s", "public": true}',
      run, tid, n, string.lower(code), code)
   local headers = {
      ["Content-Type"] = "application/json",
      ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255),
                                          math.random(0, 255), math.random(1, 254)),
   }
   return wrk.format(nil, nil, headers, body)
end

function response(status, headers, body)
   count_status(status)
end
