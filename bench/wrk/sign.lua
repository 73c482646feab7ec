-- POST a signature with a unique address each time: wrk ... -s sign.lua URL -- RUN_ID CODES_FILE
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
wrk.headers["Content-Type"] = "application/json"

function request()
   n = n + 1
   local body = string.format(
      '{"given_name": "Anne", "family_name": "Martin", "email": "wrk-%s-%d-%d@bench-test.fr", ' ..
      '"mandate": "maire", "territory_code": "%s", "public": true}',
      run, tid, n, codes[math.random(#codes)])
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   count_status(status)
end
