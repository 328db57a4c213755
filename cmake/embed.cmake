# Embed a file as a C array: cmake -DIN=file -DOUT=file.c -DSYM=name -P embed.cmake
# Written out by CMake itself (file(READ ... HEX)) so the build needs no xxd.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR nbytes "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
# One line of the array per line of the input keeps the file readable.
string(REPLACE "0x0a," "0x0a,\n\t" body "${body}")
file(WRITE "${OUT}.tmp"
"/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n"
"#include <stddef.h>\n\n"
"const unsigned char ${SYM}[] = {\n\t${body}0x00\n};\n"
"const size_t ${SYM}_len = ${nbytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
