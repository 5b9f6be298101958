/* placeholder */ typedef int lamina_placeholder_;
