-- POST the confirmation button of /confirmer/{token}, one token per request, as a browser does:
-- wrk ... -s confirm.lua BASE_URL -- TOKENS_FILE CSRF_TOKEN THREADS
-- Thread k of T takes tokens k, k+T, k+2T, ...; if its share runs out it sets `exhausted`
-- and starts again (the run is then invalid: the benchmark refuses it).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "common"

local tokens, i, nthreads = {}, 0, 2
exhausted = 0

function init(args)
   local k = 0
   nthreads = tonumber(args[3])
   for line in io.lines(args[1]) do
      k = k + 1
      if (k - 1) % nthreads == tid - 1 then
         table.insert(tokens, line)
      end
   end
   wrk.headers["Cookie"] = "csrftoken=" .. args[2]
   form = "_csrf_token=" .. args[2]  -- the form's hidden field, as the browser posts it
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function request()
   i = i + 1
   if i > #tokens then
      exhausted = 1
      i = 1
   end
   return wrk.format(nil, "/confirmer/" .. tokens[i], nil, form)
end

function response(status, headers, body)
   count_status(status)
end
