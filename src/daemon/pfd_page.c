// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The status page (pfd_page.html) compiled into portfwd, so that it is one
 * self-contained file served as is, with nothing to install beside the
 * binary. The assembler reads the file: the Makefile names it as a
 * prerequisite of this object.
 */
#include "pfd_http.h"

__asm__(".section .rodata\n"
	".global pfd_page\n"
	".type pfd_page, @object\n"
	"pfd_page:\n"
	".incbin \"src/daemon/pfd_page.html\"\n"
	"pfd_page_end:\n"
	".byte 0\n"
	".size pfd_page, . - pfd_page\n"
	".balign 8\n"
	".global pfd_page_len\n"
	".type pfd_page_len, @object\n"
	"pfd_page_len:\n"
	".quad pfd_page_end - pfd_page\n"
	".size pfd_page_len, 8\n"
	".previous\n");
