-- sign.lua with a pause before each request, so that the connections together offer about a
-- given rate instead of as many as the server can take:
-- wrk ... -s sign_paced.lua URL -- RUN_ID CODES_FILE PAUSE_MS
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "sign"

local pause = 0
local sign_init = init

function init(args)
   sign_init(args)
   pause = tonumber(args[3])
end

function delay()
   return pause
end
