// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the kernel engine knows of each forward, kept here by the forward's
 * id and not in the table's objects, which the engines share: how a version
 * of it is loaded, and how the table being rendered wants it. One slot per
 * possible id (PF_ID_MAX), allocated at once: the memory of slots never used
 * is never touched, and a lookup is an index.
 */
#include "pfk_int.h"
#include "../common/pf_util.h"

static struct pfk_fstate *pfk_fst;

struct pfk_fstate *pfk_fs(const struct pf_forward *f)
{
	if (!pfk_fst)
		pfk_fst = pf_xcalloc((size_t)PF_ID_MAX + 1, sizeof(*pfk_fst));
	return &pfk_fst[f->id & PF_ID_MAX];
}

uint8_t pfk_form(const struct pf_forward *f)
{
	return pfk_fs(f)->form;
}

void pfk_set_form(const struct pf_forward *f, uint8_t form)
{
	pfk_fs(f)->form = form;
}

uint8_t pfk_loaded_form(const struct pf_forward *f)
{
	const struct pfk_fstate *fs = pfk_fs(f);

	return fs->loaded_f == f ? fs->loaded : 0;
}

void pfk_set_loaded(const struct pf_forward *f, bool loaded)
{
	struct pfk_fstate *fs = pfk_fs(f);

	if (loaded) {
		fs->loaded_f = f;
		fs->loaded = fs->form | PFK_FORM_LOADED;
	} else if (fs->loaded_f == f) {
		fs->loaded_f = NULL;
		fs->loaded = 0;
	}
}

const struct pf_forward *pfk_loaded_by_id(uint32_t id)
{
	return pfk_fst && id <= PF_ID_MAX ? pfk_fst[id].loaded_f : NULL;
}
