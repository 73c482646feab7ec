-- GET the URL, counting statuses: wrk ... -s get.lua URL
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "common"

function response(status, headers, body)
   count_status(status)
end
