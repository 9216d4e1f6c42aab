// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The chains of the forwards that own theirs (pfk_fchain_owns: a port
 * forward with chains, no 'from' pool about), loaded forward by forward from
 * the model, as simple forwards' elements are: a change plans what its
 * forwards need against what their ids have loaded (pfk_state.c), and its
 * commands go with the core's diff in one libnftables transaction. The core
 * render leaves these chains and their keys out, so that neither a change
 * nor the core's diff reads or writes the chains of forwards it does not
 * touch.
 */
#include "pfk_int.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The forwards that own their chains (pfk_fchain_owns) in the pending
 * table or refresh: whose chains it loads (chain_next set), whose chains
 * and keys it deletes; own_gen marks the ids it owns. */
static struct pf_fwdvec pfk_own_new;
static struct pf_fwdvec pfk_own_gone;
static uint32_t pfk_own_gen;

/*
 * nft commands for forwards' own chains, gathered by kind so that a change
 * of thousands is a handful of commands (one per verdict map, one table
 * block), not thousands (libnftables keeps state per command): what goes
 * before the core's diff (keys, then chains deleted) and after it (chains
 * flushed, chains, then keys added).
 */
struct pfk_own_cmds {
	struct pf_buf del_keys[PFK_M_ALL4], del_chains;
	struct pf_buf flush, chains, add_keys[PFK_M_ALL4];
};

static struct pfk_own_cmds pfk_own;

static void pfk_own_cmds_free(struct pfk_own_cmds *c)
{
	unsigned m;

	for (m = 0; m < PFK_M_ALL4; m++) {
		pf_buf_free(&c->del_keys[m]);
		pf_buf_free(&c->add_keys[m]);
	}
	pf_buf_free(&c->del_chains);
	pf_buf_free(&c->flush);
	pf_buf_free(&c->chains);
}

/* A forward's chains (their text given) and keys added. */
static void pfk_own_add(struct pfk_own_cmds *c, const struct pf_forward *f, const char *text)
{
	pfk_fchain_keys(&c->add_keys[pfk_fchain_map(f)], f, true);
	pf_buf_puts(&c->chains, text);
}

/* The commands as one script: before the core's diff (pre) or after it. */
static char *pfk_own_cmds_script(const struct pfk_own_cmds *c, bool pre)
{
	struct pf_buf b = { 0 };
	const struct pf_buf *keys = pre ? c->del_keys : c->add_keys;
	unsigned m;
	int err = 0;

	if (!pre) {
		pf_buf_add(&b, c->flush.s ? c->flush.s : "", c->flush.len);
		if (c->chains.len)
			pfk_out(&b, "table inet portfw {\n%s}\n", c->chains.s);
	}
	for (m = 0; m < PFK_M_ALL4; m++) {
		/* Each list starts with ", ": skipped. */
		if (keys[m].len)
			pfk_out(&b, "%s element inet portfw %s { %s }\n", pre ? "delete" : "add",
				pfk_vmap_name(m), keys[m].s + 2);
		err |= keys[m].err;
	}
	if (pre)
		pf_buf_add(&b, c->del_chains.s ? c->del_chains.s : "", c->del_chains.len);
	err |= c->flush.err | c->chains.err | c->del_chains.err;
	pf_buf_puts(&b, "");
	if (err) {
		pf_buf_free(&b);
		return NULL;
	}
	return pf_buf_detach(&b, NULL);
}

/* A forward of the table to load that owns its chains: its chains' text
 * now, against its id's as loaded: the same (nothing to do), other (the
 * chains flushed and given their rules again), none (chains and keys
 * added). */
void pfk_own_plan(struct pf_forward *f)
{
	struct pfk_fstate *fs = pfk_fs(f);
	struct pf_buf b = { 0 };
	char *text;

	fs->own_gen = pfk_own_gen;
	pfk_fchain_render(&b, f);
	text = pf_buf_detach(&b, NULL);
	if (!text) {
		pfk_own.chains.err = -ENOMEM;
		return;
	}
	if (fs->chain && !strcmp(fs->chain, text)) {
		free(text);
		return;
	}
	free(fs->chain_next);
	fs->chain_next = text;
	pf_fwdvec_push(&pfk_own_new, f);
	if (fs->chain) {
		pfk_out(&pfk_own.flush, "flush chain inet portfw f%u\nflush chain inet portfw f%u_nat\n",
			f->id, f->id);
		pfk_persrc_flush_sets(&pfk_own.flush, f, fs->chain);
		pf_buf_puts(&pfk_own.chains, text);
	} else {
		pfk_own_add(&pfk_own, f, text);
	}
}

/* A loaded forward whose id owns no chains in the table to load (it went,
 * or its new version has none of its own): its keys and chains go. */
void pfk_own_drop(struct pf_forward *f)
{
	const struct pfk_fstate *fs = pfk_fs(f);

	if (!fs->chain || fs->own_gen == pfk_own_gen || fs->loaded_f != f)
		return;
	pfk_fchain_keys(&pfk_own.del_keys[pfk_fchain_map(f)], f, false);
	pfk_out(&pfk_own.del_chains,
		"delete chain inet portfw f%u\ndelete chain inet portfw f%u_nat\n", f->id, f->id);
	if (strstr(fs->chain, PFK_PS_COMMENT))
		pfk_persrc_drop_sets(&pfk_own.del_chains, f->id);
	pf_fwdvec_push(&pfk_own_gone, f);
}

/* The chains of every forward that owns them, for a load of the whole
 * table: the table to load's (own_gen, as planned), or the loaded one's. */
char *pfk_own_all(struct pf_forward *const *v, size_t n, bool loaded)
{
	struct pfk_own_cmds c = { 0 };
	size_t i;
	char *s;

	for (i = 0; i < n; i++) {
		const struct pfk_fstate *fs = pfk_fs(v[i]);
		const char *text = loaded ? (fs->loaded_f == v[i] ? fs->chain : NULL)
					  : (fs->own_gen == pfk_own_gen
						     ? (fs->chain_next ? fs->chain_next : fs->chain)
						     : NULL);

		if (text)
			pfk_own_add(&c, v[i], text);
	}
	s = pfk_own_cmds_script(&c, false);
	pfk_own_cmds_free(&c);
	return s;
}

/* The planned chains are loaded: they are the ids' as loaded now. */
void pfk_own_commit(void)
{
	size_t i;

	for (i = 0; i < pfk_own_gone.n; i++) {
		struct pfk_fstate *fs = pfk_fs(pfk_own_gone.v[i]);

		if (fs->own_gen != pfk_own_gen) {
			free(fs->chain);
			fs->chain = NULL;
		}
	}
	for (i = 0; i < pfk_own_new.n; i++) {
		struct pfk_fstate *fs = pfk_fs(pfk_own_new.v[i]);

		free(fs->chain);
		fs->chain = fs->chain_next;
		fs->chain_next = NULL;
	}
	pf_fwdvec_free(&pfk_own_new);
	pf_fwdvec_free(&pfk_own_gone);
	pfk_own_cmds_free(&pfk_own);
}

void pfk_own_abort(void)
{
	size_t i;

	for (i = 0; i < pfk_own_new.n; i++) {
		struct pfk_fstate *fs = pfk_fs(pfk_own_new.v[i]);

		free(fs->chain_next);
		fs->chain_next = NULL;
	}
	/* What the aborted change owned is nobody's again. */
	pfk_own_gen++;
	pf_fwdvec_free(&pfk_own_new);
	pf_fwdvec_free(&pfk_own_gone);
	pfk_own_cmds_free(&pfk_own);
}

void pfk_own_begin(void)
{
	pfk_own_gen++;
}

bool pfk_own_pending(void)
{
	return pfk_own_new.n > 0;
}

char *pfk_own_script(bool pre)
{
	return pfk_own_cmds_script(&pfk_own, pre);
}

void pfk_own_forget(const struct pf_forward *f)
{
	struct pfk_fstate *fs = pfk_fs(f);

	if (fs->loaded_f == f) {
		free(fs->chain);
		fs->chain = NULL;
	}
}
