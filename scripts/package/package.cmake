# Installing and packaging (docs/deploy.md). Included from the top-level
# CMakeLists.txt after the parts, whose own install() rules put the binaries in
# bin/. This file adds the web UI, the example flag files and the systemd units
# (`cmake --install`), the backup script as chat-backup, and the Debian package
# around them (`cpack`).
#
#   scripts/build --target chat-core ws-bridge chat && scripts/build-web
#   cmake --install build --prefix /usr      # or:  (cd build && cpack)
#
# Neither builds anything: install and package after building the binaries and
# the web UI (scripts/deb does all of it).

set(CHAT_WEB_DIST "${PROJECT_SOURCE_DIR}/web/dist" CACHE PATH
    "The built web UI (scripts/build-web) that the install and the package carry")

# The web UI, built beforehand: a clear message instead of a half install.
install(CODE "
  if(NOT EXISTS \"${CHAT_WEB_DIST}/index.html\")
    message(FATAL_ERROR \"${CHAT_WEB_DIST}/index.html is missing: build the web UI first (scripts/build-web)\")
  endif()")
install(DIRECTORY "${CHAT_WEB_DIST}/" DESTINATION "${CMAKE_INSTALL_DATADIR}/chat/web")
install(FILES "${PROJECT_SOURCE_DIR}/docs/deploy.md" "${PROJECT_SOURCE_DIR}/docs/operations.md"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}")
# Online backups of the SQLite database (scripts/backup), as chat-backup.
install(PROGRAMS "${PROJECT_SOURCE_DIR}/scripts/backup" DESTINATION "${CMAKE_INSTALL_BINDIR}" RENAME chat-backup)

# Flag files and units name the paths they are installed to, known only at
# install time (cpack installs with the prefix /usr): install_config.cmake.
install(CODE "
  set(CHAT_PACKAGE_SRC \"${CMAKE_CURRENT_LIST_DIR}\")
  set(CHAT_PACKAGE_BIN \"${PROJECT_BINARY_DIR}/package\")
  set(CHAT_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(CHAT_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
  set(CHAT_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(CHAT_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(CHAT_STATE_DIR \"/var/lib/chat\")")
install(SCRIPT "${CMAKE_CURRENT_LIST_DIR}/install_config.cmake")

# The Debian package: chat_<version>_<arch>.deb in the build directory.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chat)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "chat maintainers <chat@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time chat backend: gRPC service, WebSocket bridge, web UI and CLI")
set(CPACK_PACKAGE_DESCRIPTION
    "chat-core serves rooms, ordered durable history and accounts over gRPC (SQLite, or PostgreSQL shared\n\
by several nodes); ws-bridge serves the web UI and carries browsers' WebSockets to it; chat is the\n\
command-line client. systemd units run both services as the system user chat (docs: deploy.md).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The prefix /usr, and absolute destinations (/etc/chat, /lib/systemd/system)
# staged under the package's root rather than written to this machine's /.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
# Shared libraries found by dpkg-shlibdeps (dpkg-dev); adduser for postinst,
# python3 for chat-backup.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, python3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_LIST_DIR}/conffiles"
    "${CMAKE_CURRENT_LIST_DIR}/postinst"
    "${CMAKE_CURRENT_LIST_DIR}/prerm"
    "${CMAKE_CURRENT_LIST_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
