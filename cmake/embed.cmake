# Writes OUT, a C file holding each of FILES (separated by |) as a byte array
# named sk__web_<file name with . as _> and its length: the web client
# shipped inside the binary. Run as cmake -DOUT=... -DFILES=... -P.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "/* Generated from web/ by cmake/embed.cmake: do not edit. */\n#include <stddef.h>\n")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  string(REPLACE "." "_" name ${name})
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "const unsigned char sk__web_${name}[] = {${bytes}0};\n")
  string(APPEND body "const size_t sk__web_${name}_len = ${n};\n")
endforeach()
file(WRITE ${OUT} "${body}")
