/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The port table file of the iptables-era scripts (seed 004):
 *
 *   # Ext-port Int-IP Int-port
 *   13102 172.16.0.2 80          # Netbook Apache
 *   13110-13111 172.16.0.2 RANGE # same ports on the inside
 *
 * Each line forwards EXT-PORT (or LOW-HIGH, mapped 1:1) of every local
 * address to INT-IP:INT-PORT for TCP and UDP. INT-PORT is a port, a range of
 * the same size, or RANGE (the same ports). '#' starts a comment anywhere.
 */
#ifndef PF_TABLEFILE_H
#define PF_TABLEFILE_H

#include <stddef.h>

#define PF_TABLEFILE_WHAT "expected EXT-PORT INT-IP INT-PORT [# comment]"

/*
 * Translates a table file into 'forward' statements of the command
 * language, named table-EXT-PORT. The output has one line per input line (a
 * comment or blank line gives an empty one), so a FILE:LINE found later in
 * the output is the same line of the table file. Returns 0 and a malloc'd
 * text in *out, or -1 with "NAME:LINE: 'word': expected ..." in err.
 */
int pf_tablefile_translate(const char *name, const char *text, size_t len, char **out,
			   char *err, size_t errlen);

#endif
