app_name = "rewards"

urlpatterns: list = []
