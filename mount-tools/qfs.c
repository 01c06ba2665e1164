// SPDX-License-Identifier: MIT
/*
 * qfs.c - `qfs COMMAND ...`: the operator's view of a cluster. This file
 * only dispatches; each subcommand lives in its own qfs_*.c (qfs_cmds.h).
 *
 *   qfs sync CONFIG             make acknowledged writes durable everywhere
 *                               (FUSE never sees sync(2) or syncfs(2))
 *   qfs df CONFIG               usable capacity (raw free / N, shared
 *                               filesystems counted once)
 *   qfs replicas CONFIG PATH|INODE
 *                               what each replica holds of a file's inode
 *                               and chunks, without repairing anything
 *   qfs status CONFIG [--json]  each daemon's health and space, and whether
 *                               every part of the ring has W and R usable
 *                               replicas (exit 1 when a part lacks W)
 *   qfs layout CONFIG           the ring: points and key share per daemon
 *   qfs layout show|add|remove|set-weight|set-zone|apply|abort CONFIG ...
 *                               stage and apply a new layout version
 *   qfs rebalance CONFIG        move data to the layout in transition
 */
#include <stdio.h>
#include <string.h>

#include "mount-tools/qfs_cmds.h"
#include "proto/log.h"

struct qfs_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct qfs_command commands[] = {
	{ "sync", qfs_cmd_sync, "qfs sync CONFIG" },
	{ "df", qfs_cmd_df, "qfs df CONFIG" },
	{ "replicas", qfs_cmd_replicas, "qfs replicas CONFIG PATH|INODE" },
	{ "status", qfs_cmd_status, "qfs status CONFIG [--json]" },
	{ "layout", qfs_cmd_layout, "qfs layout CONFIG | qfs layout show|apply|abort CONFIG |\n"
	  "    qfs layout add CONFIG NAME ENDPOINT [--weight W] [--zone Z] [--public-key K] |\n"
	  "    qfs layout remove CONFIG NAME | qfs layout set-weight CONFIG NAME W |\n"
	  "    qfs layout set-zone CONFIG NAME ZONE (- for none)" },
	{ "rebalance", qfs_cmd_rebalance, "qfs rebalance CONFIG [--rate MB/s]" },
	{ "keygen", qfs_cmd_keygen, "qfs keygen NAME [--dir DIR]" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	qlog_init("qfs", false, QLOG_WARN);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	usage(stderr);
	return 2;
}
