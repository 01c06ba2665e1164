# Install rules (`make install`, `cmake --install BUILD`; DESTDIR is honoured):
#   sbin: chunkd, mkfs.quorumfs, fsck.quorumfs         bin: quorumfs, qfs
#   mount.quorumfs into QFS_MOUNT_HELPER_DIR (mount(8) looks in /sbin only)
#   man pages, docs, examples; /etc/quorumfs/*.example (never a real config);
#   chunkd@.service into QFS_SYSTEMD_UNIT_DIR.
# quorumfs goes to bin because `mount -t fuse.quorumfs` runs it through
# mount.fuse3 with mount(8)'s fixed PATH (/usr/local/sbin:/usr/local/bin:
# /usr/sbin:/usr/bin:/sbin:/bin), so any prefix in that list works.
include(GNUInstallDirs)

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
	set(QFS_HELPER_DIR_DEFAULT ${CMAKE_INSTALL_FULL_SBINDIR})
	set(QFS_UNIT_DIR_DEFAULT /lib/systemd/system)
else()
	set(QFS_HELPER_DIR_DEFAULT /sbin)
	set(QFS_UNIT_DIR_DEFAULT ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
set(QFS_CONF_DIR /etc/quorumfs CACHE PATH "directory of the cluster config and chunkd-NAME.env files")
set(QFS_MOUNT_HELPER_DIR ${QFS_HELPER_DIR_DEFAULT} CACHE PATH "where mount.quorumfs goes (mount(8) searches /sbin)")
set(QFS_SYSTEMD_UNIT_DIR ${QFS_UNIT_DIR_DEFAULT} CACHE PATH "where chunkd@.service goes")
set(QFS_SBINDIR ${CMAKE_INSTALL_FULL_SBINDIR})

install(TARGETS chunkd mkfs.quorumfs fsck.quorumfs RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS qfs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET quorumfs)
	install(TARGETS quorumfs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(PROGRAMS ${CMAKE_SOURCE_DIR}/mount-tools/mount.quorumfs DESTINATION ${QFS_MOUNT_HELPER_DIR})

install(FILES docs/man/chunkd.8 docs/man/quorumfs.8 docs/man/mount.quorumfs.8
	      docs/man/mkfs.quorumfs.8 docs/man/fsck.quorumfs.8 docs/man/qfs.8
	DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES docs/man/quorumfs.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)

install(FILES docs/examples/cluster.conf DESTINATION ${QFS_CONF_DIR}
	RENAME cluster.conf.example)
install(FILES docs/examples/chunkd.env DESTINATION ${QFS_CONF_DIR} RENAME chunkd.env.example)

configure_file(packaging/chunkd@.service.in ${CMAKE_BINARY_DIR}/packaging/chunkd@.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/chunkd@.service DESTINATION ${QFS_SYSTEMD_UNIT_DIR})

install(FILES README.md docs/admin-guide.md docs/user-guide.md docs/configuration.md
	      docs/consistency.md docs/chunkd.md docs/dependencies.md
	DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES docs/examples/cluster.conf docs/examples/chunkd.env docs/examples/mnt-data.mount
	DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
