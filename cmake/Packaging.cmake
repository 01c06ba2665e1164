# The Debian package (`make deb`: cpack -G DEB in a build configured with
# CMAKE_INSTALL_PREFIX=/usr). It holds what cmake/Install.cmake installs.
# Depends are the Debian 12 runtime packages of the libraries we link
# (docs/dependencies.md) plus fuse3 for fusermount3 and mount.fuse3, and
# passwd for useradd in postinst (the quorumfs system user of chunkd@.service).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME quorumfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "QuorumFS")
set(CPACK_PACKAGE_CONTACT "QuorumFS maintainers <quorumfs@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "leaderless replicated filesystem: FUSE client, chunk daemon, tools")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "leaderless replicated filesystem: FUSE client, chunk daemon, tools
 QuorumFS splits files into chunks, writes every chunk and metadata record to
 W of its N replica daemons and reads them from R, newest version wins. No
 master, no metadata server. This package holds the chunk daemon (chunkd and
 chunkd@.service), the FUSE client (quorumfs, mount.quorumfs), mkfs.quorumfs
 and the qfs operator tool.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.36), libfuse3-3 (>= 3.14), fuse3, libzmq5 (>= 4.3.4), libxxhash0 (>= 0.8.1), liblmdb0 (>= 0.9.24), libinih1 (>= 55), libjansson4 (>= 2.14), passwd")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/postinst
    ${CMAKE_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
